// The message service for the search scenario, in its own process: the real gRPC server
// (build(): kit gRPC server, zod, MikroORM on PostgreSQL, MessageServiceImpl with its
// SearchMessages and SendMessage) on an already seeded database, next to in-process stand-ins for
// the room and user services: ListMyRooms gives the reader's rooms (BENCH_SEARCH_WORLD, a JSON
// file), GetMembership says every caller is a member of every room, ResolveLogin maps the seeded
// logins to their ids. Only those gRPC hops are left out; the message service's own code is whole.
// BENCH_SEARCH_SCHEMA=plain opens the database with every migration but the search one.
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLogger, dataAccess, InternalAuth, MemoryBroker, openDatabase, type Logger } from "@parley/kit";
import {
  build,
  DiskStorage,
  entities,
  FileRepository,
  filesConfig,
  initORM,
  LinkPreviewRepository,
  Message,
  MessageRepository,
  migrations,
  RoomHead,
  RoomHeadRepository,
  SearchRepository,
  StoredFile,
  ThreadFollow,
  ThreadFollowRepository,
  type MessageDb,
  type MessageDeps,
} from "@parley/message";
import { Role, RoomKind } from "@parley/proto/room/v1/room_pb";
import { serveBenchTarget } from "../lib/target-process.js";

/** What the stand-ins answer: written by the scenario. */
export interface SearchWorld {
  reader: string;
  /** The reader's rooms (ListMyRooms). */
  rooms: { id: string; name: string }[];
  /** login -> user id (ResolveLogin). */
  users: Record<string, string>;
}

export const SEARCH_MIGRATION = "Migration20261203100000_search";

/** Every migration but the search one: the schema before issue 17. */
export const migrationsWithoutSearch = migrations.filter((m) => m.name !== SEARCH_MIGRATION);

/** The message service's data access on the schema without search (what initORM builds, fewer migrations). */
export async function openPlainDatabase(databaseUrl: string, log: Logger): Promise<MessageDb> {
  const orm = await openDatabase({ databaseUrl, log, service: "message", entities, migrations: migrationsWithoutSearch });
  return dataAccess(orm, (em) => ({
    messages: new MessageRepository(em, Message),
    heads: new RoomHeadRepository(em, RoomHead),
    threads: new ThreadFollowRepository(em, ThreadFollow),
    search: new SearchRepository(em),
    files: new FileRepository(em, StoredFile),
    previews: new LinkPreviewRepository(em),
  }));
}

function standIns(world: SearchWorld): Pick<MessageDeps, "rooms" | "users"> {
  const rooms = {
    getMembership: async ({ roomId, userId }: { roomId: string; userId: string }) => ({
      membership: { roomId, userId, role: Role.MEMBER, joinTime: timestampNow(), lastReadSeq: 0n },
      roomKind: RoomKind.PUBLIC,
      roomArchived: false,
      roomMembersCanPin: false,
      roomMembersCanMentionEveryone: true,
    }),
    moveReadMarker: async () => ({}),
    listMyRooms: async () => ({
      rooms: world.rooms.map((r) => ({
        room: { id: r.id, kind: RoomKind.PUBLIC, name: r.name, archived: false, memberCount: 20 },
        membership: { roomId: r.id, userId: world.reader, role: Role.MEMBER, joinTime: timestampNow(), lastReadSeq: 0n },
      })),
    }),
  };
  const users = {
    resolveLogin: async ({ login }: { login: string }) => {
      const userId = world.users[login.toLowerCase()];
      if (!userId) throw new ConnectError("user not found", Code.NotFound);
      return { userId };
    },
  };
  return { rooms: rooms as unknown as MessageDeps["rooms"], users: users as unknown as MessageDeps["users"] };
}

if (process.env.BENCH_SEARCH_WORLD) {
  await serveBenchTarget(async () => {
    const world = JSON.parse(readFileSync(process.env.BENCH_SEARCH_WORLD!, "utf8")) as SearchWorld;
    const log = createLogger("message", process.env.LOG_LEVEL ?? "info");
    const databaseUrl = process.env.DATABASE_URL!;
    const db = process.env.BENCH_SEARCH_SCHEMA === "plain" ? await openPlainDatabase(databaseUrl, log) : await initORM({ databaseUrl, log });
    const broker = new MemoryBroker(log);
    // Search sends no files: a throwaway directory stands in for the storage.
    const filesDir = await mkdtemp(join(tmpdir(), "parley-bench-files-"));
    const files = filesConfig(await new DiskStorage(join(filesDir, "files")).open(), join(filesDir, "tmp"));
    const server = build({ db, broker, log, files, ...standIns(world) }, new InternalAuth(process.env.INTERNAL_AUTH_SECRET!, "message"));
    const port = await server.listen(0, "127.0.0.1");
    return {
      address: `127.0.0.1:${port}`,
      stop: async () => {
        await server.shutdown(1000);
        await db.orm.close();
      },
    };
  });
}
