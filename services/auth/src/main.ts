// Entrypoint of the auth service in the distributed mode.
import { createLogger, loadConfig, stopOnSignals } from "@parley/kit";
import { createAuthDeps } from "./deps.js";
import { authEnv } from "./env.js";
import { build } from "./server.js";

const config = loadConfig(authEnv);
const log = createLogger("auth", config.LOG_LEVEL);
const deps = await createAuthDeps(config, log);
const server = build(deps);
const port = await server.listen(config.PORT);
log.info({ port }, "auth service listening");
stopOnSignals(log, [
  { name: "grpc", stop: () => server.shutdown(config.SHUTDOWN_GRACE_MS) },
  { name: "dependencies", stop: () => deps.close() },
]);
