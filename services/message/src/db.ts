// The message service's database.
import { openDatabase, type DatabaseOptions } from "@parley/kit";
import { entities } from "./entities.js";
import { migrations } from "./migrations/index.js";

export async function initORM(options: Pick<DatabaseOptions, "databaseUrl" | "dataDir" | "log">) {
  const orm = await openDatabase({ ...options, service: "message", entities, migrations });
  return { orm, em: orm.em };
}

export type MessageDb = Awaited<ReturnType<typeof initORM>>;
