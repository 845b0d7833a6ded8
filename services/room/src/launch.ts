// Starts the room service: database, user-service client, gRPC server.
import { defineService } from "@parley/kit";
import { createRoomDeps } from "./deps.js";
import { roomEnv } from "./env.js";
import { build } from "./server.js";

export const launch = defineService({
  name: "room",
  env: roomEnv,
  open: ({ config, log, broker, internalAuth, dataDir }) => createRoomDeps(config, log, broker(), internalAuth, dataDir),
  build,
});
