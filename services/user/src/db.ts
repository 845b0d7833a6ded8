// The user service's database: its entities, its migrations, and its data access in the
// kit's one style (services/kit/src/db.ts): `db.fork()` or `db.transactional()` per unit of
// work, giving the repository `users` over that fork.
import { dataAccess, openDatabase, type DatabaseOptions } from "@parley/kit";
import { migrations } from "./migrations/index.js";
import { UserRepository } from "./repository.js";
import { User } from "./user.entity.js";

export async function initORM(options: Pick<DatabaseOptions, "databaseUrl" | "dataDir" | "log">) {
  const orm = await openDatabase({
    ...options,
    service: "user",
    entities: [User],
    migrations,
    extensions: ["pg_trgm"],
  });
  return dataAccess(orm, (em) => ({ users: new UserRepository(em, User) }));
}

export type UserDb = Awaited<ReturnType<typeof initORM>>;
