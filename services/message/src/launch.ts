// Starts the message service: database, room- and user-service clients, gRPC server.
import { createServiceClient, defineService } from "@parley/kit";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { initORM } from "./db.js";
import { messageEnv } from "./env.js";
import { build } from "./server.js";

export const launch = defineService({
  name: "message",
  env: messageEnv,
  async open({ config, log, broker, internalAuth, dataDir }) {
    const db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir, log });
    const rooms = createServiceClient(RoomService, config.ROOM_SERVICE_ADDR, { internalAuth });
    const users = createServiceClient(UserService, config.USER_SERVICE_ADDR, { internalAuth });
    return { db, broker: broker(), rooms, users, log, close: () => db.orm.close() };
  },
  build,
});
