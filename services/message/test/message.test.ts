// The message service inside the all-in-one Parley, with the real room service:
// every behaviour again, plus what the two services do together.
import { asUser } from "@parley/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeMessageBehaviours } from "./behaviours.js";
import { startParleyWorld, type ParleyWorld } from "./parley-world.js";

describeMessageBehaviours("all-in-one with the real room service", startParleyWorld);

describe("message and room services together", () => {
  let world: ParleyWorld;
  beforeAll(async () => {
    world = await startParleyWorld();
  });
  afterAll(() => world?.stop());

  it("gives ListMyRooms the last seq and the unread count (own and deleted messages excluded) from GetRoomStats", async () => {
    const alice = await world.newUser();
    const bob = await world.newUser();
    const roomId = await world.createRoom(alice, "private", [bob]);
    const send = (userId: string, body: string) =>
      world.messages.sendMessage({ roomId, body }, asUser(userId)).then((r) => r.message!);
    await send(alice, "one");
    const two = await send(bob, "two");
    await send(bob, "three");
    await world.messages.deleteMessage({ messageId: two.id }, asUser(bob));
    const { rooms } = await world.parley.rooms.listMyRooms({}, asUser(alice));
    const summary = rooms.find((r) => r.room?.id === roomId);
    expect(summary).toMatchObject({ lastSeq: 3n, unreadCount: 1n });
    await world.parley.rooms.markRead({ roomId, seq: 3n }, asUser(alice));
    const after = (await world.parley.rooms.listMyRooms({}, asUser(alice))).rooms.find((r) => r.room?.id === roomId);
    expect(after).toMatchObject({ lastSeq: 3n, unreadCount: 0n });
  });
});
