// Entrypoint of the user service in the distributed mode.
import { createLogger, loadConfig, stopOnSignals } from "@parley/kit";
import { initORM } from "./db.js";
import { userEnv } from "./env.js";
import { build } from "./server.js";

const config = loadConfig(userEnv);
const log = createLogger("user", config.LOG_LEVEL);
const db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir: `${config.DATA_DIR}/user`, log });
const server = build({ db, log });
const port = await server.listen(config.PORT);
log.info({ port }, "user service listening");
stopOnSignals(log, [
  { name: "grpc", stop: () => server.shutdown(config.SHUTDOWN_GRACE_MS) },
  { name: "database", stop: () => db.orm.close() },
]);
