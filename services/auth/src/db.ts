// The auth service's database: its entities, its migrations, and its data access in the
// kit's one style (services/kit/src/db.ts): `db.fork()` or `db.transactional()` per unit of
// work, giving the repositories `credentials`, `sessions`, `refreshTokens` and `signingKeys`.
import { dataAccess, EntityRepository, openDatabase, type DatabaseOptions } from "@parley/kit";
import { Credential, RefreshToken, Session, SigningKey, entities } from "./entities.js";
import { migrations } from "./migrations/index.js";
import { CredentialRepository, SigningKeyRepository } from "./repositories.js";

export async function initORM(options: Pick<DatabaseOptions, "databaseUrl" | "dataDir" | "log">) {
  const orm = await openDatabase({ ...options, service: "auth", entities, migrations });
  return dataAccess(orm, (em) => ({
    credentials: new CredentialRepository(em, Credential),
    sessions: new EntityRepository<Session>(em, Session),
    refreshTokens: new EntityRepository<RefreshToken>(em, RefreshToken),
    signingKeys: new SigningKeyRepository(em, SigningKey),
  }));
}

export type AuthDb = Awaited<ReturnType<typeof initORM>>;
/** A unit of work of the auth service: its repositories over one fork. */
export type AuthUnit = ReturnType<AuthDb["fork"]>;
