// The user service's database: its entities, its migrations, its repository.
import { openDatabase, type DatabaseOptions } from "@parley/kit";
import { migrations } from "./migrations/index.js";
import { User } from "./user.entity.js";

export async function initORM(options: Pick<DatabaseOptions, "databaseUrl" | "dataDir" | "log">) {
  const orm = await openDatabase({
    ...options,
    service: "user",
    entities: [User],
    migrations,
    extensions: ["pg_trgm"],
  });
  return { orm, em: orm.em, users: orm.em.getRepository(User) };
}

export type UserDb = Awaited<ReturnType<typeof initORM>>;
