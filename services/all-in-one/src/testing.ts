// A whole Parley for a test file: every service on a free port, on a fresh
// database (embedded in memory, or PostgreSQL when PARLEY_TEST_DATABASE_URL is set),
// with typed clients that sign their calls with the services' internal credential key.
// stop() shuts it down and drops its databases.
import { randomBytes } from "node:crypto";
import { createLogger, createServiceClient, InternalAuth } from "@parley/kit";
import { TEST_INTERNAL_SECRET, TEST_REDIS_URL, testDatabase } from "@parley/kit/testing";
import { AuthService } from "@parley/proto/auth/v1/auth_pb";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { serviceNames, startParley } from "./start.js";

// Generous deadlines: a shared 2-core machine under load must slow tests down, not fail them.
const TIMEOUTS = { defaultTimeoutMs: 30_000 };

export async function startTestParley(env: Record<string, string> = {}) {
  const db = testDatabase();
  const parleyEnv: Record<string, string | undefined> = {
    ...process.env,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    DATABASE_URL: db.databaseUrl ?? "",
    REDIS_URL: TEST_REDIS_URL ?? "",
    // Counters and channels of this test only, even on a shared Redis.
    REDIS_PREFIX: `parley-test:${randomBytes(4).toString("hex")}:`,
    INTERNAL_AUTH_SECRET: TEST_INTERNAL_SECRET,
    ...env,
  };
  const internalAuth = new InternalAuth(parleyEnv.INTERNAL_AUTH_SECRET!, "test");
  const TEST_CLIENT = { ...TIMEOUTS, internalAuth };
  const parley = await startParley({
    env: parleyEnv,
    ports: Object.fromEntries(serviceNames.map((name) => [name, 0])),
    dataDir: db.dataDir,
    log: createLogger("test", process.env.TEST_LOG_LEVEL ?? "silent"),
  });
  return {
    ...parley,
    /** The environment the services were started with (for starting more processes alike). */
    env: parleyEnv,
    /** Signs calls to these services (for clients a test makes itself). */
    internalAuth,
    auth: createServiceClient(AuthService, parley.addresses.auth, TEST_CLIENT),
    users: createServiceClient(UserService, parley.addresses.user, TEST_CLIENT),
    rooms: createServiceClient(RoomService, parley.addresses.room, TEST_CLIENT),
    messages: createServiceClient(MessageService, parley.addresses.message, TEST_CLIENT),
    async stop() {
      await parley.stop();
      await db.drop();
    },
  };
}

export type TestParley = Awaited<ReturnType<typeof startTestParley>>;
