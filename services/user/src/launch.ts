// Starts the user service: config, database, gRPC server.
import { createLogger, launched, parseEnv, type Launch } from "@parley/kit";
import { initORM } from "./db.js";
import { userEnv } from "./env.js";
import { build } from "./server.js";

export const launch: Launch = async ({ env, port, host, dataDir }) => {
  const config = parseEnv(userEnv, { ...env, ...(port !== undefined && { PORT: String(port) }) });
  const log = createLogger("user", config.LOG_LEVEL);
  const db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir: dataDir ?? `${config.DATA_DIR}/user`, log });
  try {
    const server = build({ db, log });
    const bound = await server.listen(config.PORT, host);
    return launched("user", `${host ?? "127.0.0.1"}:${bound}`, log, [
      { name: "grpc", stop: () => server.shutdown(config.SHUTDOWN_GRACE_MS) },
      { name: "database", stop: () => db.orm.close() },
    ]);
  } catch (error) {
    await db.orm.close();
    throw error;
  }
};
