// Starts the room service: config, database, the user service's client, gRPC server.
import { addressEnv, brokerFor, createLogger, InternalAuth, launched, parseEnv, type Launch } from "@parley/kit";
import { createRoomDeps } from "./deps.js";
import { roomEnv } from "./env.js";
import { build } from "./server.js";

export const launch: Launch = async (options) => {
  const { env, port, host, dataDir, addresses } = options;
  const config = parseEnv(roomEnv, { ...env, ...addressEnv(addresses), ...(port !== undefined && { PORT: String(port) }) });
  const log = createLogger("room", config.LOG_LEVEL);
  const { broker, stop: stopBroker } = brokerFor(options, config.REDIS_URL, log, config.REDIS_PREFIX);
  const internalAuth = new InternalAuth(config.INTERNAL_AUTH_SECRET, "room");
  const deps = await createRoomDeps(config, log, broker, internalAuth, dataDir);
  try {
    const server = build(deps, internalAuth);
    const bindAddress = host ?? config.BIND_ADDRESS;
    const bound = await server.listen(config.PORT, bindAddress);
    return launched("room", bindAddress, bound, log, [
      { name: "grpc", stop: () => server.shutdown(config.SHUTDOWN_GRACE_MS) },
      { name: "dependencies", stop: () => deps.close() },
      ...stopBroker,
    ]);
  } catch (error) {
    await deps.close();
    for (const step of stopBroker) await step.stop();
    throw error;
  }
};
