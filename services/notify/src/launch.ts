// Starts the notify service: database (VAPID keys made on first start), clients of the room,
// message and user services, the gRPC server.
import { createServiceClient, defineService } from "@parley/kit";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { initORM } from "./db.js";
import { notifyEnv } from "./env.js";
import { currentVapidKey } from "./keys.js";
import { build } from "./server.js";

export const launch = defineService({
  name: "notify",
  env: notifyEnv,
  async open({ config, log, internalAuth, dataDir }) {
    const db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir, log });
    try {
      await currentVapidKey(db);
    } catch (error) {
      await db.orm.close();
      throw error;
    }
    const rooms = createServiceClient(RoomService, config.ROOM_SERVICE_ADDR, { internalAuth });
    const messages = createServiceClient(MessageService, config.MESSAGE_SERVICE_ADDR, { internalAuth });
    const users = createServiceClient(UserService, config.USER_SERVICE_ADDR, { internalAuth });
    return {
      db,
      log,
      rooms,
      messages,
      users,
      pushAllowedHosts: config.NOTIFY_PUSH_ALLOWED_HOSTS,
      now: () => new Date(),
      close: () => db.orm.close(),
    };
  },
  build,
});
