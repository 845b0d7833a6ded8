// `npm start`: every service in one process on the default ports, embedded
// PostgreSQL under ./data (or DATABASE_URL), in-memory broker (or REDIS_URL).
import { createLogger, DataDirInUseError, stopOnSignals } from "@parley/kit";
import { startParley } from "./start.js";

const log = createLogger("parley", process.env.LOG_LEVEL);
// Loopback by default: set HOST=0.0.0.0 to accept connections from other machines.
const parley = await startParley({ log, host: process.env.HOST || "127.0.0.1" }).catch((error: unknown) => {
  // Another process runs on DATA_DIR: say who, not a stack trace.
  if (error instanceof DataDirInUseError) process.stderr.write(`parley: ${error.message}\n`);
  else log.fatal({ err: error }, "could not start");
  process.exit(1);
});
log.info({ addresses: parley.addresses }, "Parley is running");
stopOnSignals(log, [{ name: "parley", stop: () => parley.stop() }]);
