// The message service on its own, on a fresh database (embedded, or PostgreSQL
// with PARLEY_TEST_DATABASE_URL) and broker (in memory, or Redis with
// PARLEY_TEST_REDIS_URL), next to a fake room service: the room service is
// outside the message service, so a fake of it is fair for service-level tests.
import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  createBroker,
  createGrpcServer,
  createLogger,
  createServiceClient,
  implement,
  type Broker,
  type Logger,
  type ServiceHandlers,
} from "@parley/kit";
import { TEST_REDIS_URL, testDatabase, testInternalAuth } from "@parley/kit/testing";
import { FileService } from "@parley/proto/file/v1/file_pb";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import { Role, RoomKind, RoomService } from "@parley/proto/room/v1/room_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { uuidv7 } from "uuidv7";
import { build, filesConfig, initORM, type FilesConfig, type MessageDb } from "../src/index.js";
import { testFileStorage, type TestFileStorage } from "./support/s3.js";
import type { FileStorage } from "../src/files/storage.js";
import type { LinkPreviewWorker } from "../src/previews/worker.js";
import type { World } from "./world.js";

interface FakeRoom {
  kind: RoomKind;
  /** Empty for direct rooms. */
  name: string;
  archived: boolean;
  membersCanPin?: boolean;
  membersCanMentionEveryone?: boolean;
  members: Map<string, Role>;
  /** Read markers by user. */
  read: Map<string, bigint>;
}

/** GetMembership, MoveReadMarker and ListMyRooms over an in-memory table of rooms; every other method is UNIMPLEMENTED. */
export class FakeRooms {
  readonly rooms = new Map<string, FakeRoom>();
  /** Set to make GetMembership fail with this code. */
  failWith: Code | undefined;

  handlers(): ServiceHandlers<typeof RoomService> {
    const handlers = Object.fromEntries(
      RoomService.methods.map((m) => [
        m.localName,
        async () => {
          throw new ConnectError(`${m.name} is not part of the fake`, Code.Unimplemented);
        },
      ]),
    ) as unknown as ServiceHandlers<typeof RoomService>;
    handlers.getMembership = async ({ roomId, userId }) => {
      if (this.failWith !== undefined) throw new ConnectError("fake failure", this.failWith);
      const room = this.rooms.get(roomId);
      const role = room?.members.get(userId);
      if (!room || role === undefined) return { roomKind: room?.kind ?? RoomKind.UNSPECIFIED, roomArchived: room?.archived ?? false };
      return {
        membership: { roomId, userId, role, joinTime: timestampNow(), lastReadSeq: room.read.get(userId) ?? 0n },
        roomKind: room.kind,
        roomArchived: room.archived,
        roomMembersCanPin: room.membersCanPin ?? false,
        roomMembersCanMentionEveryone: room.membersCanMentionEveryone ?? true,
      };
    };
    handlers.listMyRooms = async (_request, ctx) => {
      const userId = ctx.userId ?? "";
      return {
        rooms: [...this.rooms]
          .filter(([, room]) => room.members.has(userId))
          .map(([id, room]) => ({
            room: { id, kind: room.kind, name: room.name, archived: room.archived, memberCount: room.members.size },
            membership: { roomId: id, userId, role: room.members.get(userId)!, joinTime: timestampNow(), lastReadSeq: room.read.get(userId) ?? 0n },
          })),
      };
    };
    handlers.moveReadMarker = async ({ roomId, seq }, ctx) => {
      const userId = ctx.userId ?? "";
      const room = this.rooms.get(roomId);
      if (!room || (!room.members.has(userId) && room.kind !== RoomKind.PUBLIC)) throw new ConnectError("room not found", Code.NotFound);
      if (!room.members.has(userId)) throw new ConnectError("you are not a member of this room", Code.FailedPrecondition);
      const after = (room.read.get(userId) ?? 0n) > seq ? room.read.get(userId)! : seq;
      room.read.set(userId, after);
      return { lastReadSeq: after };
    };
    return handlers;
  }

  room(roomId: string): FakeRoom {
    const room = this.rooms.get(roomId);
    if (!room) throw new Error(`no fake room ${roomId}`);
    return room;
  }
}

/** The user service's ResolveLogin over usernames given to the fake (newUser's users have none); every other method is UNIMPLEMENTED. */
function fakeUserHandlers(usernames: Map<string, string>): ServiceHandlers<typeof UserService> {
  const handlers = Object.fromEntries(
    UserService.methods.map((m) => [
      m.localName,
      async () => {
        throw new ConnectError(`${m.name} is not part of the fake`, Code.Unimplemented);
      },
    ]),
  ) as unknown as ServiceHandlers<typeof UserService>;
  handlers.resolveLogin = async ({ login }) => {
    const userId = usernames.get(login.toLowerCase());
    if (!userId) throw new ConnectError("no such account", Code.NotFound);
    return { userId };
  };
  return handlers;
}

export type FakeRoomWorld = World & {
  db: MessageDb;
  fakeRooms: FakeRooms;
  messageAddress: string;
  /** The files storage (disk embedded, s3rver on PostgreSQL) and the settings the service got. */
  storage: TestFileStorage;
  filesConfig: FilesConfig;
};

export interface FakeRoomWorldOptions {
  broker?: Broker;
  log?: Logger;
  files?: Partial<FilesConfig>;
  /** The link preview worker the service runs with (issue 19); none: previews off. */
  linkPreviews?: (deps: { db: MessageDb; broker: Broker; log: Logger; storage: FileStorage }) => LinkPreviewWorker;
}

export async function startFakeRoomWorld(options: FakeRoomWorldOptions = {}): Promise<FakeRoomWorld> {
  const log = options.log ?? createLogger("test", process.env.TEST_LOG_LEVEL ?? "silent");
  const database = testDatabase();
  const fakeRooms = new FakeRooms();
  const internalAuth = testInternalAuth();
  const usernames = new Map<string, string>();
  const roomServer = createGrpcServer({
    name: "fake-room",
    log,
    internalAuth,
    services: [implement(RoomService, fakeRooms.handlers()), implement(UserService, fakeUserHandlers(usernames))],
  });
  const roomPort = await roomServer.listen(0, "127.0.0.1");
  // Channels of this test only, even on a shared Redis.
  const redisPrefix = `parley-test:${randomBytes(4).toString("hex")}:`;
  const broker = options.broker ?? createBroker(TEST_REDIS_URL, log, redisPrefix);
  const db = await initORM({ databaseUrl: database.databaseUrl, dataDir: database.dataDir, log });
  const rooms = createServiceClient(RoomService, `127.0.0.1:${roomPort}`, { internalAuth: testInternalAuth("message") });
  const users = createServiceClient(UserService, `127.0.0.1:${roomPort}`, { internalAuth: testInternalAuth("message") });
  const storage = await testFileStorage();
  const files = filesConfig(storage.storage, storage.tempDir, options.files);
  const linkPreviews = options.linkPreviews?.({ db, broker, log, storage: storage.storage });
  const server = build({ db, broker, rooms, users, log, files, ...(linkPreviews && { linkPreviews }) }, testInternalAuth("message"));
  const port = await server.listen(0, "127.0.0.1");
  const messageAddress = `127.0.0.1:${port}`;

  return {
    db,
    fakeRooms,
    messageAddress,
    storage,
    filesConfig: files,
    messages: createServiceClient(MessageService, messageAddress, { internalAuth }),
    files: createServiceClient(FileService, messageAddress, { internalAuth }),
    broker,
    redisPrefix,
    async newUser(username?: string) {
      const id = uuidv7();
      if (username) usernames.set(username.toLowerCase(), id);
      return id;
    },
    async createRoom(ownerId, kind, memberIds = [], name = `room ${randomBytes(3).toString("hex")}`) {
      const id = uuidv7();
      const members = new Map<string, Role>([[ownerId, Role.OWNER]]);
      for (const memberId of memberIds) members.set(memberId, Role.MEMBER);
      fakeRooms.rooms.set(id, { kind: kind === "public" ? RoomKind.PUBLIC : RoomKind.PRIVATE, name, archived: false, members, read: new Map() });
      return id;
    },
    async addMember(roomId, _byId, userId) {
      fakeRooms.room(roomId).members.set(userId, Role.MEMBER);
    },
    async makeAdmin(roomId, _ownerId, userId) {
      fakeRooms.room(roomId).members.set(userId, Role.ADMIN);
    },
    async kick(roomId, _byId, userId) {
      fakeRooms.room(roomId).members.delete(userId);
    },
    async leave(roomId, userId) {
      fakeRooms.room(roomId).members.delete(userId);
    },
    async setMembersCanPin(roomId, _ownerId, value) {
      fakeRooms.room(roomId).membersCanPin = value;
    },
    async setMembersCanMentionEveryone(roomId, _ownerId, value) {
      fakeRooms.room(roomId).membersCanMentionEveryone = value;
    },
    async archive(roomId) {
      fakeRooms.room(roomId).archived = true;
    },
    async stop() {
      await server.shutdown(1_000);
      await roomServer.shutdown(1_000);
      await linkPreviews?.stop();
      await db.orm.close();
      if (!options.broker) await broker.close();
      await database.drop();
      await storage.stop();
    },
  };
}
