// `npm start`: every service in one process on the default ports, embedded
// PostgreSQL under ./data (or DATABASE_URL), in-memory broker (or REDIS_URL).
import { createLogger, DataDirInUseError, stopOnSignals } from "@parley/kit";
import { startParley } from "./all-in-one.js";

const log = createLogger("parley", process.env.LOG_LEVEL);
// Loopback by default: BIND_ADDRESS=0.0.0.0 accepts connections from other machines (HOST, its
// name before, still works).
const parley = await startParley({ log, host: process.env.BIND_ADDRESS || process.env.HOST || "127.0.0.1" }).catch((error: unknown) => {
  // Another process runs on DATA_DIR: say who, not a stack trace.
  if (error instanceof DataDirInUseError) process.stderr.write(`parley: ${error.message}
`);
  else log.fatal({ err: error }, "could not start");
  process.exit(1);
});
log.info({ addresses: parley.addresses }, "Parley is running");
stopOnSignals(log, [{ name: "parley", stop: () => parley.stop() }]);
