// Read markers: MessageService.MarkRead caps them at the room's newest message, the room service
// stores them (never backwards) and publishes their moves. The sidebar's counts: edge/test/my-rooms.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { asUser, topics } from "@parley/kit";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { failure, listen, newRoom, newUser } from "./support.js";

let parley: TestParley<"room" | "message">;
beforeAll(async () => {
  parley = await startTestParley({ services: ["room", "message"] });
});
afterAll(() => parley?.stop());

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
    const mark = (seq: bigint) => parley.messages.markRead({ roomId: room.id, seq }, asUser(reader.id));
    expect((await mark(3n)).lastReadSeq).toBe(3n);
    expect((await mark(1n)).lastReadSeq).toBe(3n);
    expect((await mark(0n)).lastReadSeq).toBe(3n);
    expect((await mark(100n)).lastReadSeq).toBe(5n);
    const { membership } = await parley.rooms.getMembership({ roomId: room.id, userId: reader.id });
    expect(membership?.lastReadSeq).toBe(5n);
    // In an empty room there is nothing to have read.
    const empty = await newRoom(parley, reader.id);
    expect((await parley.messages.markRead({ roomId: empty.id, seq: 7n }, asUser(reader.id))).lastReadSeq).toBe(0n);
  });

  it("end at the highest of racing calls", async () => {
    const [reader, writer] = [await newUser(parley), await newUser(parley)];
    const room = await roomWith(reader.id, writer.id);
    await send(room.id, writer.id, 6);
    const results = await Promise.all([2n, 6n, 4n, 1n, 5n, 3n].map((seq) => parley.messages.markRead({ roomId: room.id, seq }, asUser(reader.id))));
    expect(results.every((r) => r.lastReadSeq >= 1n)).toBe(true);
    expect((await parley.rooms.getMembership({ roomId: room.id, userId: reader.id })).membership?.lastReadSeq).toBe(6n);
  });

  it("refuses a negative seq and a caller who is not a member", async () => {
    const [reader, visitor] = [await newUser(parley), await newUser(parley)];
    const room = await roomWith(reader.id);
    const negative = await failure(parley.messages.markRead({ roomId: room.id, seq: -1n }, asUser(reader.id)));
    expect(negative?.code).toBe(Code.InvalidArgument);
    expect(negative?.metadata.get("parley-field")).toBe("seq");
    const outsider = await failure(parley.messages.markRead({ roomId: room.id, seq: 1n }, asUser(visitor.id)));
    expect(outsider?.code).toBe(Code.FailedPrecondition);
  });

  it("publishes the moved marker on the room and to the reader's own topic, only when it moves", async () => {
    const [reader, writer] = [await newUser(parley), await newUser(parley)];
    const room = await roomWith(reader.id, writer.id);
    await send(room.id, writer.id, 3);
    const [roomTopic, readerTopic] = [await listen(parley, topics.room(room.id)), await listen(parley, topics.user(reader.id))];
    try {
      await parley.messages.markRead({ roomId: room.id, seq: 2n }, asUser(reader.id));
      await parley.messages.markRead({ roomId: room.id, seq: 1n }, asUser(reader.id));
      await parley.messages.markRead({ roomId: room.id, seq: 3n }, asUser(reader.id));
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
