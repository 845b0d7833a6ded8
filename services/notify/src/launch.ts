// Starts the notify service: database (VAPID keys made on first start), clients of the room,
// message and user services, the gRPC server, and the worker (every replica runs one).
import { createServiceClient, defineService, type Launch } from "@parley/kit";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { createMailer } from "./channels/email.js";
import { createPushAgents } from "./channels/push-endpoint.js";
import { initORM } from "./db.js";
import { notifyEnv } from "./env.js";
import { currentVapidKey } from "./keys.js";
import { build } from "./server.js";
import { NotifyWorker, type WorkerOptions } from "./worker/index.js";

/** What tests change in a notify process: its clock, and the worker's timings. */
export interface NotifyOverrides {
  now?: () => Date;
  leaseMs?: number;
  pollMs?: number;
  /** Start without the worker (an API-only process). */
  worker?: boolean;
  /** Called with the worker once started (tests wait on its intake). */
  onWorker?: (worker: NotifyWorker) => void;
}

export function notifyLaunch(overrides: NotifyOverrides = {}): Launch {
  return defineService({
    name: "notify",
    env: notifyEnv,
    async open({ config, log, internalAuth, dataDir, broker, presence }) {
      const now = overrides.now ?? (() => new Date());
      const db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir, log });
      const rooms = createServiceClient(RoomService, config.ROOM_SERVICE_ADDR, { internalAuth });
      const messages = createServiceClient(MessageService, config.MESSAGE_SERVICE_ADDR, { internalAuth });
      const users = createServiceClient(UserService, config.USER_SERVICE_ADDR, { internalAuth });
      let worker: NotifyWorker | undefined;
      const pushAgents = createPushAgents(config.NOTIFY_PUSH_ALLOWED_HOSTS);
      const mailer = createMailer(config);
      const close = async () => {
        await worker?.stop();
        mailer?.close();
        pushAgents.destroy();
        await db.orm.close();
      };
      try {
        await currentVapidKey(db);
        if (overrides.worker !== false) {
          const options: WorkerOptions = {
            db,
            log,
            broker: broker(),
            presence: presence(),
            rooms,
            messages,
            users,
            now,
            publicUrl: config.PUBLIC_URL,
            vapidSubject: config.VAPID_SUBJECT,
            pushAllowedHosts: config.NOTIFY_PUSH_ALLOWED_HOSTS,
            pushAgents,
            mailer,
            sweepMs: config.NOTIFY_SWEEP_MS,
            ...(overrides.leaseMs !== undefined && { leaseMs: overrides.leaseMs }),
            ...(overrides.pollMs !== undefined && { pollMs: overrides.pollMs }),
          };
          worker = new NotifyWorker(options);
          await worker.start();
          overrides.onWorker?.(worker);
          log.info({ email: mailer !== null, sweepMs: config.NOTIFY_SWEEP_MS }, "notification worker started");
        }
      } catch (error) {
        await close().catch(() => undefined);
        throw error;
      }
      return { db, log, rooms, messages, users, pushAllowedHosts: config.NOTIFY_PUSH_ALLOWED_HOSTS, now, close };
    },
    build,
  });
}

export const launch = notifyLaunch();
