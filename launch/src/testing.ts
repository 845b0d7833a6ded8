// Parley for a test file: the processes it names and what they call (closure over the process
// table), nothing else, each on a free port, on a fresh database (embedded in memory, or
// PostgreSQL when PARLEY_TEST_DATABASE_URL is set), with typed clients of the services started
// that sign their calls with the services' internal credential key. stop() shuts it down and
// drops its databases.
//   startTestParley({ services: ["user"] })   the user service alone
//   startTestParley()                         every process: services, socket tier, edge
import { randomBytes } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import { createLogger, createServiceClient, InternalAuth } from "@parley/kit";
import { TEST_INTERNAL_SECRET, TEST_REDIS_URL, testDatabase } from "@parley/kit/testing";
import { AuthService } from "@parley/proto/auth/v1/auth_pb";
import { FileService } from "@parley/proto/file/v1/file_pb";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import { NotificationService } from "@parley/proto/notify/v1/notify_pb";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { testFileStorage } from "@parley/message/testing/files";

/** Disk in the embedded mode, S3 on an s3rver of the test's own with PostgreSQL: what startTestParley's files use. */
export { testFileStorage, type TestFileStorage } from "@parley/message/testing/files";
import { startParley, type RunningParley } from "./all-in-one.js";
import { PROCESS_NAMES, type Closure, type ProcessName } from "./processes.js";

// Generous deadlines: a shared 2-core machine under load must slow tests down, not fail them.
const TIMEOUTS = { defaultTimeoutMs: 30_000 };

/** The typed clients of the services among `S`. */
export type TestClients<S extends ProcessName> = ("auth" extends S ? { auth: Client<typeof AuthService> } : unknown) &
  ("user" extends S ? { users: Client<typeof UserService> } : unknown) &
  ("room" extends S ? { rooms: Client<typeof RoomService> } : unknown) &
  // FileService is hosted by the message process (issue 19).
  ("message" extends S ? { messages: Client<typeof MessageService>; files: Client<typeof FileService> } : unknown) &
  ("notify" extends S ? { notifications: Client<typeof NotificationService> } : unknown);

export interface TestParleyOptions<S extends ProcessName> {
  /** The processes the test needs; what they call starts too. Default: every process. */
  services?: readonly S[];
  /** Settings over the test defaults. */
  env?: Record<string, string>;
}

/** What startTestParley({ services: [...S] }) returns: the processes of S and what they call. */
export type TestParley<S extends ProcessName = ProcessName> = RunningParley<Closure<S>> &
  TestClients<Closure<S>> & {
    /** The environment the processes were started with (for starting more processes alike). */
    env: Record<string, string | undefined>;
    /** Signs calls to these services (for clients a test makes itself). */
    internalAuth: InternalAuth;
  };

const CLIENTS = { auth: ["auth", AuthService], user: ["users", UserService], room: ["rooms", RoomService], message: ["messages", MessageService], notify: ["notifications", NotificationService] } as const;

export async function startTestParley<S extends ProcessName = ProcessName>(options: TestParleyOptions<S> = {}): Promise<TestParley<S>> {
  const db = testDatabase();
  // Files (issue 19): disk in a temp dir in the embedded mode, S3 on a fresh s3rver on PostgreSQL.
  const files = await testFileStorage();
  const parleyEnv: Record<string, string | undefined> = {
    ...process.env,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    DATABASE_URL: db.databaseUrl ?? "",
    REDIS_URL: TEST_REDIS_URL ?? "",
    // Counters and channels of this test only, even on a shared Redis.
    REDIS_PREFIX: `parley-test:${randomBytes(4).toString("hex")}:`,
    INTERNAL_AUTH_SECRET: TEST_INTERNAL_SECRET,
    ...files.env,
    // Link previews (issue 19) fetch what messages link to: never from a test that did not ask
    // (LINK_PREVIEWS=on with LINK_PREVIEW_ALLOWED_HOSTS naming its local pages).
    LINK_PREVIEWS: "off",
    ...options.env,
  };
  const internalAuth = new InternalAuth(parleyEnv.INTERNAL_AUTH_SECRET!, "test");
  const clientOptions = { ...TIMEOUTS, internalAuth };
  const parley = await startParley({
    services: options.services ?? (PROCESS_NAMES as readonly ProcessName[] as readonly S[]),
    env: parleyEnv,
    ports: Object.fromEntries(PROCESS_NAMES.map((name) => [name, 0])),
    dataDir: db.dataDir,
    log: createLogger("test", process.env.TEST_LOG_LEVEL ?? "silent"),
  }).catch(async (error: unknown) => {
    await db.drop();
    await files.stop();
    throw error;
  });
  const addresses: Partial<Record<ProcessName, string>> = parley.addresses;
  const clients: Record<string, unknown> = {};
  for (const [name, [key, service]] of Object.entries(CLIENTS)) {
    const address = addresses[name as ProcessName];
    if (address) clients[key] = createServiceClient(service, address, clientOptions);
  }
  if (addresses.message) clients.files = createServiceClient(FileService, addresses.message, clientOptions);
  const started = {
    ...parley,
    env: parleyEnv,
    internalAuth,
    async stop() {
      await parley.stop();
      await db.drop();
      await files.stop();
    },
  };
  return Object.assign(started, clients) as TestParley<S>;
}
