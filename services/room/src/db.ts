// The room service's database: its entities and its migrations.
import { openDatabase, type DatabaseOptions } from "@parley/kit";
import { entities } from "./entities.js";
import { migrations } from "./migrations/index.js";

export async function initORM(options: Pick<DatabaseOptions, "databaseUrl" | "dataDir" | "log">) {
  const orm = await openDatabase({ ...options, service: "room", entities, migrations });
  return { orm, em: orm.em };
}

export type RoomDb = Awaited<ReturnType<typeof initORM>>;
