// Starts the message service: database, room-service client, gRPC server.
import { createServiceClient, defineService } from "@parley/kit";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { initORM } from "./db.js";
import { messageEnv } from "./env.js";
import { build } from "./server.js";

export const launch = defineService({
  name: "message",
  env: messageEnv,
  async open({ config, log, broker, internalAuth, dataDir }) {
    const db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir, log });
    const rooms = createServiceClient(RoomService, config.ROOM_SERVICE_ADDR, { internalAuth });
    return { db, broker: broker(), rooms, log, close: () => db.orm.close() };
  },
  build,
});
