// Starts the message service: database, room- and user-service clients, gRPC server.
import { createServiceClient, defineService } from "@parley/kit";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { initORM } from "./db.js";
import { messageEnv } from "./env.js";
import { storageFromEnv } from "./files/storage-from-env.js";
import { startLinkPreviews } from "./previews/index.js";
import { build } from "./server.js";

export const launch = defineService({
  name: "message",
  env: messageEnv,
  async open({ config, log, broker, internalAuth, dataDir }) {
    const db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir, log });
    const rooms = createServiceClient(RoomService, config.ROOM_SERVICE_ADDR, { internalAuth });
    const users = createServiceClient(UserService, config.USER_SERVICE_ADDR, { internalAuth });
    const storage = await storageFromEnv(config);
    const events = broker();
    // Link previews (issue 19): the worker and its sweep run in every replica (claims keep them apart).
    const linkPreviews = config.LINK_PREVIEWS === "on" ? startLinkPreviews({ db, broker: events, log, storage, config }) : undefined;
    return {
      db,
      broker: events,
      rooms,
      users,
      log,
      ...(linkPreviews && { linkPreviews }),
      close: async () => {
        await linkPreviews?.stop();
        storage.close?.();
        await db.orm.close();
      },
    };
  },
  build,
});
