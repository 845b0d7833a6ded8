// The auth service's repositories, built over one fork by initORM's data access (see
// services/kit/src/db.ts). Sessions and refresh tokens need no queries of their own:
// MikroORM's EntityRepository does.
import { EntityRepository } from "@parley/kit";
import { Credential, SigningKey } from "./entities.js";

export class CredentialRepository extends EntityRepository<Credential> {
  /**
   * The password hash of the user, if they have credentials. A bare column read, so that a
   * found row costs no more to turn into a value than no row (login's timing).
   */
  async passwordHash(userId: string): Promise<string | undefined> {
    const [row] = await this.em.execute<{ password_hash: string }[]>("select password_hash from credentials where user_id = ?", [userId]);
    return row?.password_hash;
  }
}

export class SigningKeyRepository extends EntityRepository<SigningKey> {
  /** The key that signs now: the newest of those not retired. */
  signing(): Promise<SigningKey | null> {
    return this.findOne({ retiredAt: null }, { orderBy: { createdAt: "desc" } });
  }

  /** Keys not retired, or retired after `cutoff`, newest first. */
  publishedSince(cutoff: Date): Promise<SigningKey[]> {
    return this.find({ $or: [{ retiredAt: null }, { retiredAt: { $gt: cutoff } }] }, { orderBy: { createdAt: "desc" } });
  }

  /** Retires every key that signs now. */
  retireAll(): Promise<number> {
    return this.nativeUpdate({ retiredAt: null }, { retiredAt: new Date() });
  }

  /** In a transaction: waits for, then holds until commit, the lock under which a replica creates the first key. */
  async lockFirstKeyCreation(): Promise<void> {
    await this.em.getConnection().execute("select pg_advisory_xact_lock(7263510)", [], "run", this.em.getTransactionContext());
  }
}
