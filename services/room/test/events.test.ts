import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asUser, topics } from "@parley/kit";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import type { Event } from "@parley/proto/events/v1/events_pb";
import { Role, RoomKind } from "@parley/proto/room/v1/room_pb";
import { listen, newRoom, newUser } from "./support.js";

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

describe("events after each change", () => {
  it("announces a new room to its creator's other devices", async () => {
    const owner = await newUser(parley);
    const mine = await watch(topics.user(owner.id));
    const room = await newRoom(parley, owner.id, RoomKind.PRIVATE, "announced");
    const created = await mine.next("roomCreated");
    expect(created.room).toMatchObject({ id: room.id, name: "announced", memberCount: 1 });
    expect(mine.events[0]?.roomId).toBe(room.id);
  });

  it("announces a new direct conversation to both people", async () => {
    const [ada, bob] = [await newUser(parley), await newUser(parley)];
    const [toAda, toBob] = [await watch(topics.user(ada.id)), await watch(topics.user(bob.id))];
    const { room } = await parley.rooms.openDirectRoom({ userId: bob.id }, asUser(ada.id));
    for (const listener of [toAda, toBob]) expect((await listener.next("roomCreated")).room?.id).toBe(room!.id);
  });

  it("publishes joins on the room and to the joiner, once, after the commit", async () => {
    const owner = await newUser(parley);
    const joiner = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    const roomTopic = await watch(topics.room(room.id));
    // What a consumer sees when the event reaches it: the change must already be committed.
    const seenOnArrival: (boolean | undefined)[] = [];
    const unsubscribe = await parley.broker.subscribe(topics.room(room.id), (event: Event) => {
      if (event.payload.case !== "memberJoined") return;
      void parley.rooms
        .getMembership({ roomId: room.id, userId: joiner.id })
        .then(
          (r) => seenOnArrival.push(r.membership !== undefined),
          () => seenOnArrival.push(undefined),
        );
    });
    cleanups.push(unsubscribe);
    const joinerTopic = await watch(topics.user(joiner.id));
    await parley.rooms.joinRoom({ roomId: room.id }, asUser(joiner.id));
    await parley.rooms.joinRoom({ roomId: room.id }, asUser(joiner.id));
    await parley.rooms.updateRoom({ roomId: room.id, room: { topic: "later" }, updateMask: { paths: ["topic"] } }, asUser(owner.id));
    const joined = await roomTopic.next("memberJoined");
    expect(joined.membership).toMatchObject({ roomId: room.id, userId: joiner.id, role: Role.MEMBER });
    expect(joined.byUserId).toBe(joiner.id);
    expect((await joinerTopic.next("memberJoined")).membership?.userId).toBe(joiner.id);
    // Events on a topic arrive in order: after the update, a second join event would have been seen.
    expect((await roomTopic.next("roomUpdated")).room?.topic).toBe("later");
    expect(roomTopic.events.map((e) => e.payload.case)).toEqual(["memberJoined", "roomUpdated"]);
    await expect.poll(() => seenOnArrival).toEqual([true]);
  });

  it("tells an invited person, on their own topic, who added them", async () => {
    const owner = await newUser(parley);
    const guest = await newUser(parley);
    const room = await newRoom(parley, owner.id, RoomKind.PRIVATE);
    const [roomTopic, guestTopic] = [await watch(topics.room(room.id)), await watch(topics.user(guest.id))];
    await parley.rooms.inviteMember({ roomId: room.id, userId: guest.id }, asUser(owner.id));
    for (const listener of [roomTopic, guestTopic]) {
      const joined = await listener.next("memberJoined");
      expect(joined.membership?.userId).toBe(guest.id);
      expect(joined.byUserId).toBe(owner.id);
    }
  });

  it("publishes role changes, kicks and departures on the room and to the person concerned", async () => {
    const owner = await newUser(parley);
    const [promoted, kicked, leaver] = [await newUser(parley), await newUser(parley), await newUser(parley)];
    const room = await newRoom(parley, owner.id);
    for (const user of [promoted, kicked, leaver]) await parley.rooms.joinRoom({ roomId: room.id }, asUser(user.id));
    const roomTopic = await watch(topics.room(room.id));
    const [promotedTopic, kickedTopic, leaverTopic] = [
      await watch(topics.user(promoted.id)),
      await watch(topics.user(kicked.id)),
      await watch(topics.user(leaver.id)),
    ];

    await parley.rooms.setMemberRole({ roomId: room.id, userId: promoted.id, role: Role.ADMIN }, asUser(owner.id));
    for (const listener of [roomTopic, promotedTopic]) {
      const changed = await listener.next("memberRoleChanged");
      expect(changed.membership).toMatchObject({ userId: promoted.id, role: Role.ADMIN });
      expect(changed.byUserId).toBe(owner.id);
    }

    await parley.rooms.kickMember({ roomId: room.id, userId: kicked.id }, asUser(promoted.id));
    for (const listener of [roomTopic, kickedTopic]) {
      expect(await listener.next("memberKicked")).toMatchObject({ userId: kicked.id, byUserId: promoted.id });
    }

    await parley.rooms.leaveRoom({ roomId: room.id }, asUser(leaver.id));
    for (const listener of [roomTopic, leaverTopic]) expect((await listener.next("memberLeft")).userId).toBe(leaver.id);

    expect(roomTopic.events.map((e) => e.payload.case)).toEqual(["memberRoleChanged", "memberKicked", "memberLeft"]);
    expect(roomTopic.events.every((e) => e.roomId === room.id && e.id !== "" && e.time !== undefined)).toBe(true);
  });

  it("publishes nothing for a call that changes nothing or fails", async () => {
    const owner = await newUser(parley);
    const member = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    await parley.rooms.joinRoom({ roomId: room.id }, asUser(member.id));
    const roomTopic = await watch(topics.room(room.id));
    await parley.rooms.setMemberRole({ roomId: room.id, userId: member.id, role: Role.MEMBER }, asUser(owner.id));
    await parley.rooms.updateRoom({ roomId: room.id, room: { name: room.name }, updateMask: { paths: ["name"] } }, asUser(owner.id));
    await parley.rooms.kickMember({ roomId: room.id, userId: owner.id }, asUser(member.id)).catch(() => undefined);
    await parley.rooms.leaveRoom({ roomId: room.id }, asUser(owner.id)).catch(() => undefined);
    // A change to close the sequence: it is the first event the room topic carries.
    await parley.rooms.updateRoom({ roomId: room.id, room: { topic: "marker" }, updateMask: { paths: ["topic"] } }, asUser(owner.id));
    await roomTopic.next("roomUpdated");
    expect(roomTopic.events.map((e) => e.payload.case)).toEqual(["roomUpdated"]);
  });
});
