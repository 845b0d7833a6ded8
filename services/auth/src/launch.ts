// Starts the auth service: database, signing keys, user-service client, gRPC server.
import { defineService } from "@parley/kit";
import { createAuthDeps } from "./deps.js";
import { authEnv } from "./env.js";
import { build } from "./server.js";

export const launch = defineService({
  name: "auth",
  env: authEnv,
  open: ({ config, log, broker, internalAuth, dataDir }) => createAuthDeps(config, log, broker(), internalAuth, dataDir),
  build,
});
