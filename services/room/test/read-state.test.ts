// Read markers and the sidebar: these need the message service (last seq, activity, unread counts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { asUser, topics } from "@parley/kit";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { RoomKind } from "@parley/proto/room/v1/room_pb";
import { failure, listen, newRoom, newUser } from "./support.js";

let parley: TestParley<"room">;
beforeAll(async () => {
  parley = await startTestParley({ services: ["room"] });
});
afterAll(() => parley?.stop());

const pause = (ms = 15) => new Promise((resolve) => setTimeout(resolve, ms));

async function send(roomId: string, senderId: string, count = 1) {
  let seq = 0n;
  for (let i = 0; i < count; i++) {
    const { message } = await parley.messages.sendMessage({ roomId, body: `message ${i}` }, asUser(senderId));
    seq = message!.seq;
  }
  return seq;
}

/** A public room of `owner` that `others` joined. */
async function roomWith(ownerId: string, ...others: string[]) {
  const room = await newRoom(parley, ownerId);
  for (const id of others) await parley.rooms.joinRoom({ roomId: room.id }, asUser(id));
  return room;
}

describe("read markers", () => {
  it("move forward, never backwards, and never past the room's last message", async () => {
    const [reader, writer] = [await newUser(parley), await newUser(parley)];
    const room = await roomWith(reader.id, writer.id);
    expect(await send(room.id, writer.id, 5)).toBe(5n);
    const mark = (seq: bigint) => parley.rooms.markRead({ roomId: room.id, seq }, asUser(reader.id));
    expect((await mark(3n)).lastReadSeq).toBe(3n);
    expect((await mark(1n)).lastReadSeq).toBe(3n);
    expect((await mark(0n)).lastReadSeq).toBe(3n);
    expect((await mark(100n)).lastReadSeq).toBe(5n);
    const { membership } = await parley.rooms.getMembership({ roomId: room.id, userId: reader.id });
    expect(membership?.lastReadSeq).toBe(5n);
    // In an empty room there is nothing to have read.
    const empty = await newRoom(parley, reader.id);
    expect((await parley.rooms.markRead({ roomId: empty.id, seq: 7n }, asUser(reader.id))).lastReadSeq).toBe(0n);
  });

  it("end at the highest of racing calls", async () => {
    const [reader, writer] = [await newUser(parley), await newUser(parley)];
    const room = await roomWith(reader.id, writer.id);
    await send(room.id, writer.id, 6);
    const results = await Promise.all([2n, 6n, 4n, 1n, 5n, 3n].map((seq) => parley.rooms.markRead({ roomId: room.id, seq }, asUser(reader.id))));
    expect(results.every((r) => r.lastReadSeq >= 1n)).toBe(true);
    expect((await parley.rooms.getMembership({ roomId: room.id, userId: reader.id })).membership?.lastReadSeq).toBe(6n);
  });

  it("refuses a negative seq and a caller who is not a member", async () => {
    const [reader, visitor] = [await newUser(parley), await newUser(parley)];
    const room = await roomWith(reader.id);
    const negative = await failure(parley.rooms.markRead({ roomId: room.id, seq: -1n }, asUser(reader.id)));
    expect(negative?.code).toBe(Code.InvalidArgument);
    expect(negative?.metadata.get("parley-field")).toBe("seq");
    const outsider = await failure(parley.rooms.markRead({ roomId: room.id, seq: 1n }, asUser(visitor.id)));
    expect(outsider?.code).toBe(Code.FailedPrecondition);
  });

  it("publishes the moved marker on the room and to the reader's own topic, only when it moves", async () => {
    const [reader, writer] = [await newUser(parley), await newUser(parley)];
    const room = await roomWith(reader.id, writer.id);
    await send(room.id, writer.id, 3);
    const [roomTopic, readerTopic] = [await listen(parley, topics.room(room.id)), await listen(parley, topics.user(reader.id))];
    try {
      await parley.rooms.markRead({ roomId: room.id, seq: 2n }, asUser(reader.id));
      await parley.rooms.markRead({ roomId: room.id, seq: 1n }, asUser(reader.id));
      await parley.rooms.markRead({ roomId: room.id, seq: 3n }, asUser(reader.id));
      for (const listener of [roomTopic, readerTopic]) {
        await listener.next("readMarkerMoved", (moved) => moved.lastReadSeq === 3n);
        const moves = listener.events.flatMap((e) => (e.payload.case === "readMarkerMoved" ? [e.payload.value] : []));
        expect(moves.map((m) => [m.userId, m.lastReadSeq])).toEqual([
          [reader.id, 2n],
          [reader.id, 3n],
        ]);
      }
    } finally {
      await roomTopic.unsubscribe();
      await readerTopic.unsubscribe();
    }
  });
});

describe("my rooms", () => {
  it("count unread messages of others after my marker, with the room's last seq", async () => {
    const [me, other] = [await newUser(parley), await newUser(parley)];
    const room = await roomWith(me.id, other.id);
    await send(room.id, other.id, 3);
    await send(room.id, me.id, 1);
    await send(room.id, other.id, 2);
    const summary = async () => (await parley.rooms.listMyRooms({}, asUser(me.id))).rooms.find((r) => r.room?.id === room.id)!;
    expect(await summary()).toMatchObject({ lastSeq: 6n, unreadCount: 5n });
    await parley.rooms.markRead({ roomId: room.id, seq: 4n }, asUser(me.id));
    const after = await summary();
    expect(after).toMatchObject({ lastSeq: 6n, unreadCount: 2n });
    expect(after.membership?.lastReadSeq).toBe(4n);
    await parley.rooms.markRead({ roomId: room.id, seq: 6n }, asUser(me.id));
    expect((await summary()).unreadCount).toBe(0n);
  });

  it("come most recent activity first; rooms without messages by when I joined them", async () => {
    const me = await newUser(parley);
    const a = await newRoom(parley, me.id, RoomKind.PRIVATE, "a");
    await pause();
    const b = await newRoom(parley, me.id, RoomKind.PRIVATE, "b");
    await pause();
    const quiet = await newRoom(parley, me.id, RoomKind.PRIVATE, "quiet");
    await pause();
    await send(a.id, me.id);
    const order = async () => (await parley.rooms.listMyRooms({}, asUser(me.id))).rooms.map((r) => r.room?.name);
    expect(await order()).toEqual(["a", "quiet", "b"]);
    await pause();
    await send(b.id, me.id);
    expect(await order()).toEqual(["b", "a", "quiet"]);
    const { rooms } = await parley.rooms.listMyRooms({}, asUser(me.id));
    expect(rooms[0]?.lastSeq).toBe(1n);
    expect(rooms[2]).toMatchObject({ lastSeq: 0n, unreadCount: 0n });
    expect(rooms[2]?.lastActivityTime).toEqual(rooms[2]?.membership?.joinTime);
  });
});
