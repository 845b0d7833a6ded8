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

  it("counts unread messages (own and deleted excluded) from ListMyRooms' read positions, and caps MarkRead at the room's head", async () => {
    const alice = await world.newUser();
    const bob = await world.newUser();
    const roomId = await world.createRoom(alice, "private", [bob]);
    const send = (userId: string, body: string) =>
      world.messages.sendMessage({ roomId, body }, asUser(userId)).then((r) => r.message!);
    await send(alice, "one");
    const two = await send(bob, "two");
    await send(bob, "three");
    await world.messages.deleteMessage({ messageId: two.id }, asUser(bob));
    const stats = async () => {
      const { rooms } = await world.parley.rooms.listMyRooms({}, asUser(alice));
      const membership = rooms.find((r) => r.room?.id === roomId)!.membership!;
      const { stats } = await world.messages.getRoomStats({ rooms: [{ roomId, lastReadSeq: membership.lastReadSeq }] }, asUser(alice));
      return stats[0];
    };
    expect(await stats()).toMatchObject({ lastSeq: 3n, unreadCount: 1n });
    expect((await world.messages.markRead({ roomId, seq: 99n }, asUser(alice))).lastReadSeq).toBe(3n);
    expect(await stats()).toMatchObject({ lastSeq: 3n, unreadCount: 0n });
  });
});
