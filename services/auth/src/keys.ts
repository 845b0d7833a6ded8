// Signing keys: Ed25519, created and stored by the service, published as a
// JWKS, rotated without logging anyone out (a retired key stays published
// until every token it signed has expired).
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import type { AuthDb } from "./db.js";
import { SIGNING_ALG } from "@parley/kit/tokens";
import type { SigningKey } from "./entities.js";

export interface ActiveKey {
  kid: string;
  key: CryptoKey;
}

export class SigningKeys {
  private active?: ActiveKey & { loadedAt: number };

  /**
   * @param accessTtlMs lifetime of an access token: how long a retired key stays published
   * @param reloadMs how often a replica re-reads which key signs (another replica may have rotated)
   */
  constructor(
    private readonly db: AuthDb,
    private readonly accessTtlMs: number,
    private readonly reloadMs = 30_000,
  ) {}

  /** The key that signs now; creates the first one if there is none. */
  async current(): Promise<ActiveKey> {
    if (this.active && Date.now() - this.active.loadedAt < this.reloadMs) return this.active;
    let row = await this.db.fork().signingKeys.signing();
    if (!row) row = await this.createFirst();
    this.active = { kid: row.kid, key: (await importJWK(row.privateJwk as JWK, SIGNING_ALG)) as CryptoKey, loadedAt: Date.now() };
    return this.active;
  }

  /** Makes a new key the signing key and retires the others. */
  async rotate(): Promise<string> {
    const fresh = await newKey();
    await this.db.transactional(async ({ signingKeys }) => {
      await signingKeys.retireAll();
      signingKeys.create(fresh);
    });
    this.active = undefined;
    return fresh.kid;
  }

  /** Public keys of the signing key and of retired keys whose tokens may still be valid. */
  async publicKeys(): Promise<JWK[]> {
    // A replica may sign with a key for up to reloadMs after another one retired it.
    const cutoff = new Date(Date.now() - this.accessTtlMs - this.reloadMs - 60_000);
    const rows = await this.db.fork().signingKeys.publishedSince(cutoff);
    return rows.map((row) => row.publicJwk as JWK);
  }

  private async createFirst(): Promise<SigningKey> {
    const fresh = await newKey();
    // Replicas starting together: the row lock on a sentinel serialises the check-then-create.
    return this.db.transactional(async ({ signingKeys }) => {
      await signingKeys.lockFirstKeyCreation();
      return (await signingKeys.signing()) ?? signingKeys.create(fresh);
    });
  }
}

async function newKey() {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { crv: "Ed25519", extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG };
  return { kid, privateJwk, publicJwk: { ...publicJwk, kid, alg: SIGNING_ALG, use: "sig" } };
}
