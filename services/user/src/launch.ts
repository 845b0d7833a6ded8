// Starts the user service: config, database, gRPC server.
import { createLogger, InternalAuth, launched, parseEnv, type Launch } from "@parley/kit";
import { initORM } from "./db.js";
import { userEnv } from "./env.js";
import { build } from "./server.js";

export const launch: Launch = async ({ env, port, host, dataDir }) => {
  const config = parseEnv(userEnv, { ...env, ...(port !== undefined && { PORT: String(port) }) });
  const log = createLogger("user", config.LOG_LEVEL);
  const db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir: dataDir ?? `${config.DATA_DIR}/user`, log });
  try {
    const server = build({ db, log, internalAuth: new InternalAuth(config.INTERNAL_AUTH_SECRET, "user") });
    const bindAddress = host ?? config.BIND_ADDRESS;
    const bound = await server.listen(config.PORT, bindAddress);
    return launched("user", bindAddress, bound, log, [
      { name: "grpc", stop: () => server.shutdown(config.SHUTDOWN_GRACE_MS) },
      { name: "database", stop: () => db.orm.close() },
    ]);
  } catch (error) {
    await db.orm.close();
    throw error;
  }
};
