// Starts the message service: config, database, room-service client, broker, gRPC server.
import { addressEnv, brokerFor, createLogger, createServiceClient, InternalAuth, launched, parseEnv, type Launch } from "@parley/kit";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { initORM, type MessageDb } from "./db.js";
import { messageEnv } from "./env.js";
import { build } from "./server.js";

export const launch: Launch = async (options) => {
  const { env, port, host, dataDir, addresses } = options;
  const config = parseEnv(messageEnv, { ...env, ...addressEnv(addresses), ...(port !== undefined && { PORT: String(port) }) });
  const log = createLogger("message", config.LOG_LEVEL);
  const { broker, stop: stopBroker } = brokerFor(options, config.REDIS_URL, log, config.REDIS_PREFIX);
  let db: MessageDb | undefined;
  try {
    db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir: dataDir ?? `${config.DATA_DIR}/message`, log });
    const database = db;
    const internalAuth = new InternalAuth(config.INTERNAL_AUTH_SECRET, "message");
    const rooms = createServiceClient(RoomService, config.ROOM_SERVICE_ADDR, { internalAuth });
    const server = build({ db, broker, rooms, log }, internalAuth);
    const bindAddress = host ?? config.BIND_ADDRESS;
    const bound = await server.listen(config.PORT, bindAddress);
    return launched("message", bindAddress, bound, log, [
      { name: "grpc", stop: () => server.shutdown(config.SHUTDOWN_GRACE_MS) },
      { name: "database", stop: () => database.orm.close() },
      ...stopBroker,
    ]);
  } catch (error) {
    await db?.orm.close();
    for (const step of stopBroker) await step.stop();
    throw error;
  }
};
