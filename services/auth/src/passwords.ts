// Password hashing with argon2id at (at least) OWASP's minimum cost.
import { hash, verify, type Algorithm } from "@node-rs/argon2";

// Algorithm is an ambient const enum, not a runtime object: this is Algorithm.Argon2id.
const ARGON2ID = 2 as Algorithm;

export interface Argon2Cost {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1. */
export const OWASP_MINIMUM: Argon2Cost = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

// The password's length rule is in the rule table (@parley/proto/rules): 8-256 characters,
// counted in code points, so at most 1,024 bytes of UTF-8 reach argon2.
export { PASSWORD_MAX, PASSWORD_MIN } from "@parley/proto/rules";

export class PasswordHasher {
  private readonly dummy: Promise<string>;

  constructor(private readonly cost: Argon2Cost = OWASP_MINIMUM) {
    // Verified against when an account does not exist, so that the answer takes as long.
    this.dummy = this.hash("parley-dummy-password-for-timing");
  }

  hash(password: string): Promise<string> {
    return hash(password, { algorithm: ARGON2ID, ...this.cost });
  }

  /** Checks `password` against `stored`, or against a dummy hash when there is no account. */
  async verify(stored: string | undefined, password: string): Promise<boolean> {
    const target = stored ?? (await this.dummy);
    const ok = await verify(target, password).catch(() => false);
    return ok && stored !== undefined;
  }
}
