// Starts the message service: database, file storage and its sweeper, the link preview worker,
// room- and user-service clients, gRPC server.
import { createServiceClient, defineService } from "@parley/kit";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { initORM } from "./db.js";
import { messageEnv } from "./env.js";
import { filesConfigFromEnv } from "./files/storage-from-env.js";
import { FileSweeper } from "./files/sweeper.js";
import { startLinkPreviews } from "./previews/index.js";
import { build } from "./server.js";

export const launch = defineService({
  name: "message",
  env: messageEnv,
  async open({ config, log, broker, internalAuth, dataDir }) {
    const db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir, log });
    const { files, closeStorage } = await filesConfigFromEnv(config, dataDir).catch(async (error: unknown) => {
      await db.orm.close();
      throw error;
    });
    const sweeper = new FileSweeper(db, files, log.child({ part: "files-sweeper" }));
    sweeper.start(config.FILES_SWEEP_SECONDS);
    const rooms = createServiceClient(RoomService, config.ROOM_SERVICE_ADDR, { internalAuth });
    const users = createServiceClient(UserService, config.USER_SERVICE_ADDR, { internalAuth });
    const events = broker();
    // Link previews (issue 19): the worker and its sweep run in every replica (claims keep them apart).
    const linkPreviews =
      config.LINK_PREVIEWS === "on" ? startLinkPreviews({ db, broker: events, log: log.child({ part: "link-previews" }), storage: files.storage, config }) : undefined;
    return {
      db,
      files,
      broker: events,
      rooms,
      users,
      log,
      ...(linkPreviews && { linkPreviews }),
      async close() {
        await linkPreviews?.stop();
        await sweeper.stop();
        closeStorage();
        await db.orm.close();
      },
    };
  },
  build,
});
