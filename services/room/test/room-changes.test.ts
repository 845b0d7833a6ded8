// The room lane of a room's stream: every membership change and every change to the room itself
// gets the room's next position in its own transaction, its event carries it, and ListRoomChanges
// replays the lane from any position, once each, in order, paged.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, type Client } from "@connectrpc/connect";
import { uuidv7 } from "uuidv7";
import { asUser, createLogger, createServiceClient, topics, type GrpcServer } from "@parley/kit";
import { testDatabase } from "@parley/kit/testing";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import type { Event } from "@parley/proto/events/v1/events_pb";
import { Role, RoomKind, RoomService, type RoomChange } from "@parley/proto/room/v1/room_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { build, initORM, type RoomDb } from "../src/index.js";
import { failure, listen, newRoom, newUser } from "./support.js";

let parley: TestParley<"room">;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  parley = await startTestParley({ services: ["room"] });
});
afterAll(async () => {
  for (const unsubscribe of cleanups) await unsubscribe();
  await parley?.stop();
});

async function watch(topic: string) {
  const listener = await listen(parley, topic);
  cleanups.push(listener.unsubscribe);
  return listener;
}

/** The whole lane after `after` as `userId` sees it, page by page; every page's answer too. */
async function readLane(rooms: Client<typeof RoomService>, roomId: string, userId: string, after = 0n, limit = 0) {
  const changes: RoomChange[] = [];
  const pages: { count: number; hasMore: boolean; lastChange: bigint }[] = [];
  let position = after;
  for (;;) {
    const page = await rooms.listRoomChanges({ roomId, after: position, limit }, asUser(userId));
    changes.push(...page.changes);
    pages.push({ count: page.changes.length, hasMore: page.hasMore, lastChange: page.lastChange });
    position = page.lastChange;
    if (!page.hasMore) return { changes, pages, lastChange: page.lastChange };
  }
}

/** [kind, position] of each change, for comparing the lane with the events. */
const shape = (changes: { change: bigint; payload: { case: string | undefined } }[]) => changes.map((c) => [c.payload.case, c.change]);
const inLane = (events: Event[]) => events.filter((e) => e.change > 0n);
const positions = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => BigInt(from + i));

describe("the room lane", () => {
  it("gives each kind of change the room's next position, and replays them in order with the same positions as their events", async () => {
    const owner = await newUser(parley);
    const [joiner, guest] = [await newUser(parley), await newUser(parley)];
    const room = await newRoom(parley, owner.id, RoomKind.PUBLIC, "lane");
    // The creator's own join is the room's first change.
    expect(room.lastChange).toBe(1n);
    const roomTopic = await watch(topics.room(room.id));

    const joined = await parley.rooms.joinRoom({ roomId: room.id }, asUser(joiner.id));
    expect(joined.room?.lastChange).toBe(2n);
    await parley.rooms.inviteMember({ roomId: room.id, userId: guest.id }, asUser(owner.id));
    await parley.rooms.setMemberRole({ roomId: room.id, userId: guest.id, role: Role.ADMIN }, asUser(owner.id));
    const renamed = await parley.rooms.updateRoom(
      { roomId: room.id, room: { name: "lane renamed", topic: "a topic" }, updateMask: { paths: ["name", "topic"] } },
      asUser(owner.id),
    );
    expect(renamed.room?.lastChange).toBe(5n);
    await parley.rooms.kickMember({ roomId: room.id, userId: joiner.id }, asUser(guest.id));
    await parley.rooms.leaveRoom({ roomId: room.id }, asUser(guest.id));
    await parley.rooms.updateRoom({ roomId: room.id, room: { archived: true }, updateMask: { paths: ["archived"] } }, asUser(owner.id));
    await roomTopic.next("roomUpdated", (value) => value.room?.archived === true);

    const { changes, pages, lastChange } = await readLane(parley.rooms, room.id, owner.id);
    expect(pages).toEqual([{ count: 8, hasMore: false, lastChange: 8n }]);
    expect(shape(changes)).toEqual([
      ["memberJoined", 1n],
      ["memberJoined", 2n],
      ["memberJoined", 3n],
      ["memberRoleChanged", 4n],
      ["roomUpdated", 5n],
      ["memberKicked", 6n],
      ["memberLeft", 7n],
      ["roomUpdated", 8n],
    ]);
    // As each was when made, by whom.
    const [created, join, invite, role, rename, kick, leave, archive] = changes;
    expect(created).toMatchObject({ byUserId: owner.id, payload: { case: "memberJoined", value: { userId: owner.id, role: Role.OWNER } } });
    expect(join).toMatchObject({ byUserId: joiner.id, payload: { value: { userId: joiner.id, role: Role.MEMBER } } });
    expect(invite).toMatchObject({ byUserId: owner.id, payload: { value: { userId: guest.id, role: Role.MEMBER } } });
    expect(role).toMatchObject({ byUserId: owner.id, payload: { value: { userId: guest.id, role: Role.ADMIN } } });
    expect(rename).toMatchObject({
      byUserId: owner.id,
      payload: { value: { name: "lane renamed", topic: "a topic", archived: false, lastChange: 5n } },
    });
    expect(kick).toMatchObject({ byUserId: guest.id, payload: { case: "memberKicked", value: joiner.id } });
    expect(leave).toMatchObject({ byUserId: guest.id, payload: { case: "memberLeft", value: guest.id } });
    expect(archive).toMatchObject({ payload: { value: { archived: true, lastChange: 8n } } });
    expect(changes.every((c) => c.time !== undefined)).toBe(true);

    // Live, the same changes at the same positions (the creator's join went out as roomCreated, before anyone watched).
    expect(shape(inLane(roomTopic.events).map((e) => ({ change: e.change, payload: e.payload })))).toEqual(shape(changes.slice(1)));
    // Every Room message shows where the lane stands.
    expect((await parley.rooms.getRoom({ roomId: room.id }, asUser(owner.id))).room?.lastChange).toBe(lastChange);
    const mine = (await parley.rooms.listMyRooms({}, asUser(owner.id))).rooms.find((r) => r.room?.id === room.id);
    expect(mine?.room?.lastChange).toBe(lastChange);
  });

  it("takes no position for a call that changes nothing or is refused", async () => {
    const owner = await newUser(parley);
    const [member, outsider] = [await newUser(parley), await newUser(parley)];
    const room = await newRoom(parley, owner.id);
    await parley.rooms.joinRoom({ roomId: room.id }, asUser(member.id));
    const roomTopic = await watch(topics.room(room.id));
    // Changes nothing.
    const again = await parley.rooms.joinRoom({ roomId: room.id }, asUser(member.id));
    expect(again.room?.lastChange).toBe(2n);
    await parley.rooms.inviteMember({ roomId: room.id, userId: member.id }, asUser(owner.id));
    await parley.rooms.setMemberRole({ roomId: room.id, userId: member.id, role: Role.MEMBER }, asUser(owner.id));
    const same = await parley.rooms.updateRoom({ roomId: room.id, room: { name: room.name }, updateMask: { paths: ["name"] } }, asUser(owner.id));
    expect(same.room?.lastChange).toBe(2n);
    await parley.rooms.leaveRoom({ roomId: room.id }, asUser(outsider.id));
    // Refused: kicking the owner, the owner leaving while others remain, a plain member renaming.
    expect((await failure(parley.rooms.kickMember({ roomId: room.id, userId: owner.id }, asUser(member.id))))?.code).toBe(Code.PermissionDenied);
    expect((await failure(parley.rooms.leaveRoom({ roomId: room.id }, asUser(owner.id))))?.code).toBe(Code.FailedPrecondition);
    const rename = { roomId: room.id, room: { name: "mine" }, updateMask: { paths: ["name"] } };
    expect((await failure(parley.rooms.updateRoom(rename, asUser(member.id))))?.code).toBe(Code.PermissionDenied);
    // The next change gets the next position: nothing above took one.
    await parley.rooms.updateRoom({ roomId: room.id, room: { topic: "marker" }, updateMask: { paths: ["topic"] } }, asUser(owner.id));
    await roomTopic.next("roomUpdated");
    expect(roomTopic.events.map((e) => [e.payload.case, e.change])).toEqual([["roomUpdated", 3n]]);
    const { changes } = await readLane(parley.rooms, room.id, member.id);
    expect(shape(changes)).toEqual([
      ["memberJoined", 1n],
      ["memberJoined", 2n],
      ["roomUpdated", 3n],
    ]);
  });

  it("records the last member's leave and the archiving it causes as two positions, in that order", async () => {
    const owner = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    const roomTopic = await watch(topics.room(room.id));
    await parley.rooms.leaveRoom({ roomId: room.id }, asUser(owner.id));
    const closed = await roomTopic.next("roomUpdated");
    expect(closed.room).toMatchObject({ archived: true, lastChange: 3n });
    expect(roomTopic.events.map((e) => [e.payload.case, e.change])).toEqual([
      ["memberLeft", 2n],
      ["roomUpdated", 3n],
    ]);
  });

  it("starts a direct conversation with both joins, the opener's first", async () => {
    const [ada, bob] = [await newUser(parley), await newUser(parley)];
    const { room } = await parley.rooms.openDirectRoom({ userId: ada.id }, asUser(bob.id));
    expect(room?.lastChange).toBe(2n);
    expect((await parley.rooms.openDirectRoom({ userId: bob.id }, asUser(ada.id))).room?.lastChange).toBe(2n);
    for (const reader of [ada, bob]) {
      const { changes } = await readLane(parley.rooms, room!.id, reader.id);
      expect(changes.map((c) => [c.change, c.byUserId, c.payload.case === "memberJoined" && c.payload.value.userId])).toEqual([
        [1n, bob.id, bob.id],
        [2n, bob.id, ada.id],
      ]);
    }
  });

  it("pages through 250 changes with limit 100: three pages, each change once, no gaps", async () => {
    const owner = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    for (let i = 1; i < 250; i++) {
      await parley.rooms.updateRoom({ roomId: room.id, room: { topic: `topic ${i}` }, updateMask: { paths: ["topic"] } }, asUser(owner.id));
    }
    const { changes, pages } = await readLane(parley.rooms, room.id, owner.id, 0n, 100);
    expect(pages).toEqual([
      { count: 100, hasMore: true, lastChange: 100n },
      { count: 100, hasMore: true, lastChange: 200n },
      { count: 50, hasMore: false, lastChange: 250n },
    ]);
    expect(changes.map((c) => c.change)).toEqual(positions(1, 250));
    expect(changes.at(-1)?.payload).toMatchObject({ case: "roomUpdated", value: { topic: "topic 249" } });
    // From the middle, with the default page of 100; at the head, nothing more.
    const rest = await parley.rooms.listRoomChanges({ roomId: room.id, after: 120n, limit: 0 }, asUser(owner.id));
    expect(rest.changes.map((c) => c.change)).toEqual(positions(121, 220));
    expect(rest).toMatchObject({ hasMore: true, lastChange: 220n });
    const atHead = await parley.rooms.listRoomChanges({ roomId: room.id, after: 250n, limit: 10 }, asUser(owner.id));
    expect(atHead).toMatchObject({ changes: [], hasMore: false, lastChange: 250n });
    // A page that ends exactly at the head says there is no more.
    expect(await parley.rooms.listRoomChanges({ roomId: room.id, after: 150n, limit: 100 }, asUser(owner.id))).toMatchObject({
      hasMore: false,
      lastChange: 250n,
    });
  });

  it("gives the joins of many people at once the positions 2..N+1, each once, matching their events", async () => {
    const owner = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    const joiners = await Promise.all(Array.from({ length: 24 }, () => newUser(parley)));
    const roomTopic = await watch(topics.room(room.id));
    await Promise.all(joiners.map((user) => parley.rooms.joinRoom({ roomId: room.id }, asUser(user.id))));
    const { changes, lastChange } = await readLane(parley.rooms, room.id, owner.id);
    expect(lastChange).toBe(25n);
    expect(changes.map((c) => c.change)).toEqual(positions(1, 25));
    const joinedBy = changes.slice(1).map((c) => c.byUserId);
    expect(new Set(joinedBy)).toEqual(new Set(joiners.map((u) => u.id)));
    // Each event carries its join's position.
    await expect.poll(() => inLane(roomTopic.events).length).toBe(24);
    const stored = new Map(changes.map((c) => [c.byUserId, c.change]));
    for (const event of roomTopic.events) {
      if (event.payload.case !== "memberJoined") throw new Error(`unexpected ${event.payload.case}`);
      expect(event.change).toBe(stored.get(event.payload.value.byUserId));
    }
  });
});

describe("who may read the lane, and from where", () => {
  it("answers a non-member, public room or private, as for a room that does not exist", async () => {
    const owner = await newUser(parley);
    const [visitor, kicked] = [await newUser(parley), await newUser(parley)];
    const open = await newRoom(parley, owner.id, RoomKind.PUBLIC);
    const secret = await newRoom(parley, owner.id, RoomKind.PRIVATE);
    await parley.rooms.inviteMember({ roomId: secret.id, userId: kicked.id }, asUser(owner.id));
    await parley.rooms.kickMember({ roomId: secret.id, userId: kicked.id }, asUser(owner.id));
    const attempts = [
      failure(parley.rooms.listRoomChanges({ roomId: open.id, after: 0n }, asUser(visitor.id))),
      failure(parley.rooms.listRoomChanges({ roomId: secret.id, after: 0n }, asUser(visitor.id))),
      failure(parley.rooms.listRoomChanges({ roomId: secret.id, after: 0n }, asUser(kicked.id))),
      failure(parley.rooms.listRoomChanges({ roomId: uuidv7(), after: 0n }, asUser(visitor.id))),
      // Even a position that would be ahead: the room's existence comes first.
      failure(parley.rooms.listRoomChanges({ roomId: secret.id, after: 99n }, asUser(visitor.id))),
    ];
    for (const error of await Promise.all(attempts)) {
      expect({ code: error?.code, message: error?.rawMessage }).toEqual({ code: Code.NotFound, message: "room not found" });
    }
  });

  it("tells a client ahead of the room to drop what it holds and load it afresh (OUT_OF_RANGE)", async () => {
    const owner = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    const error = await failure(parley.rooms.listRoomChanges({ roomId: room.id, after: 2n }, asUser(owner.id)));
    expect(error?.code).toBe(Code.OutOfRange);
    expect(error?.rawMessage).toMatch(/beyond the room's newest change \(1\).*drop what you hold of this room and load it afresh/);
  });

  it("refuses a negative position, a bad page size or room id with INVALID_ARGUMENT naming the field", async () => {
    const owner = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    const cases = [
      [{ roomId: room.id, after: -1n }, "after"],
      [{ roomId: room.id, after: 0n, limit: 501 }, "limit"],
      [{ roomId: room.id, after: 0n, limit: -1 }, "limit"],
      [{ roomId: "not-a-room", after: 0n }, "roomId"],
    ] as const;
    for (const [request, field] of cases) {
      const error = await failure(parley.rooms.listRoomChanges(request, asUser(owner.id)));
      expect({ code: error?.code, field: error?.metadata.get("parley-field") }, field).toEqual({ code: Code.InvalidArgument, field });
    }
    expect((await parley.rooms.listRoomChanges({ roomId: room.id, after: 0n, limit: 500 }, asUser(owner.id))).changes).toHaveLength(1);
  });
});

/** A room service on its own database, to make a change fail after it took its position. */
describe("a change that rolls back", () => {
  let db: RoomDb;
  let server: GrpcServer;
  let rooms: Client<typeof RoomService>;
  const database = testDatabase();

  beforeAll(async () => {
    const log = createLogger("test", "silent");
    db = await initORM({ databaseUrl: database.databaseUrl, dataDir: database.dataDir, log });
    const users = createServiceClient(UserService, parley.addresses.user, { internalAuth: parley.internalAuth });
    server = build({ db, log, broker: parley.broker, users }, parley.internalAuth);
    rooms = createServiceClient(RoomService, `127.0.0.1:${await server.listen(0, "127.0.0.1")}`, { internalAuth: parley.internalAuth });
  });
  afterAll(async () => {
    await server?.shutdown(1_000);
    await db?.orm.close();
    await database.drop();
  });

  it("gives its position back: the next change takes it, and the lane has no gap", async () => {
    const owner = await newUser(parley);
    const joiner = await newUser(parley);
    const { room } = await rooms.createRoom({ name: "rollback", kind: RoomKind.PUBLIC }, asUser(owner.id));
    const failed = db.transactional(async ({ roomChanges }) => {
      await roomChanges.record(room!.id, owner.id, new Date(), () => ({ case: "memberLeft", value: owner.id }));
      throw new Error("the change fails after taking its position");
    });
    await expect(failed).rejects.toThrow("after taking its position");
    const joined = await rooms.joinRoom({ roomId: room!.id }, asUser(joiner.id));
    expect(joined.room?.lastChange).toBe(2n);
    const page = await rooms.listRoomChanges({ roomId: room!.id, after: 0n }, asUser(owner.id));
    expect(shape(page.changes)).toEqual([
      ["memberJoined", 1n],
      ["memberJoined", 2n],
    ]);
    expect(page.lastChange).toBe(2n);
  });
});
