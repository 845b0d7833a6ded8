import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { uuidv7 } from "uuidv7";
import { asUser } from "@parley/kit";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { Role, RoomKind } from "@parley/proto/room/v1/room_pb";
import { failure, newUser } from "./support.js";

let parley: TestParley<"room">;
beforeAll(async () => {
  parley = await startTestParley({ services: ["room"] });
});
afterAll(() => parley?.stop());

describe("direct conversations", () => {
  it("creates the conversation once and reuses it from either side", async () => {
    const [ada, bob] = [await newUser(parley), await newUser(parley)];
    const first = await parley.rooms.openDirectRoom({ userId: bob.id }, asUser(ada.id));
    expect(first.created).toBe(true);
    expect(first.room).toMatchObject({ kind: RoomKind.DIRECT, name: "", creatorId: ada.id, memberCount: 2, archived: false });
    expect(first.room?.directMemberIds).toEqual([ada.id, bob.id].sort());
    const again = await parley.rooms.openDirectRoom({ userId: bob.id }, asUser(ada.id));
    const fromBob = await parley.rooms.openDirectRoom({ userId: ada.id }, asUser(bob.id));
    expect([again.created, fromBob.created]).toEqual([false, false]);
    expect(again.room?.id).toBe(first.room?.id);
    expect(fromBob.room?.id).toBe(first.room?.id);
    for (const user of [ada, bob]) {
      const { membership, roomKind } = await parley.rooms.getMembership({ roomId: first.room!.id, userId: user.id });
      expect(roomKind).toBe(RoomKind.DIRECT);
      // Neither of the two has power over the other.
      expect(membership?.role).toBe(Role.MEMBER);
      const mine = await parley.rooms.listMyRooms({}, asUser(user.id));
      expect(mine.rooms.filter((r) => r.room?.kind === RoomKind.DIRECT).map((r) => r.room?.id)).toEqual([first.room!.id]);
    }
  });

  it("ends in one room when both people open it at the same moment", async () => {
    const [ada, bob] = [await newUser(parley), await newUser(parley)];
    const opens = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        i % 2 === 0
          ? parley.rooms.openDirectRoom({ userId: bob.id }, asUser(ada.id))
          : parley.rooms.openDirectRoom({ userId: ada.id }, asUser(bob.id)),
      ),
    );
    expect(new Set(opens.map((o) => o.room?.id)).size).toBe(1);
    expect(opens.filter((o) => o.created)).toHaveLength(1);
    const { members } = await parley.rooms.listMembers({ roomId: opens[0]!.room!.id }, asUser(ada.id));
    expect(members.map((m) => m.membership?.userId).sort()).toEqual([ada.id, bob.id].sort());
  });

  it("refuses a conversation with oneself, with nobody, and with a malformed id", async () => {
    const ada = await newUser(parley);
    const self = await failure(parley.rooms.openDirectRoom({ userId: ada.id }, asUser(ada.id)));
    expect(self?.code).toBe(Code.InvalidArgument);
    const nobody = await failure(parley.rooms.openDirectRoom({ userId: uuidv7() }, asUser(ada.id)));
    expect(nobody?.code).toBe(Code.NotFound);
    expect(nobody?.rawMessage).toBe("user not found");
    expect((await failure(parley.rooms.openDirectRoom({ userId: "bob" }, asUser(ada.id))))?.code).toBe(Code.InvalidArgument);
  });

  it("cannot be joined, left, added to, kicked from, renamed or given roles; others do not see it", async () => {
    const [ada, bob, eve] = [await newUser(parley), await newUser(parley), await newUser(parley)];
    const { room } = await parley.rooms.openDirectRoom({ userId: bob.id }, asUser(ada.id));
    const roomId = room!.id;
    // failure() is attached at once, so that no rejection is left unhandled while others run.
    const refused = await Promise.all([
      parley.rooms.joinRoom({ roomId }, asUser(ada.id)),
      parley.rooms.leaveRoom({ roomId }, asUser(ada.id)),
      parley.rooms.inviteMember({ roomId, userId: eve.id }, asUser(ada.id)),
      parley.rooms.kickMember({ roomId, userId: bob.id }, asUser(ada.id)),
      parley.rooms.updateRoom({ roomId, room: { name: "ours" }, updateMask: { paths: ["name"] } }, asUser(ada.id)),
      parley.rooms.setMemberRole({ roomId, userId: bob.id, role: Role.ADMIN }, asUser(ada.id)),
    ].map(failure));
    for (const [i, error] of refused.entries()) expect(error?.code, `call ${i}`).toBe(Code.FailedPrecondition);
    const hidden = await Promise.all([parley.rooms.getRoom({ roomId }, asUser(eve.id)), parley.rooms.joinRoom({ roomId }, asUser(eve.id))].map(failure));
    for (const error of hidden) {
      expect(error?.code).toBe(Code.NotFound);
      expect(error?.rawMessage).toBe("room not found");
    }
    // Still both of them, untouched.
    const { members } = await parley.rooms.listMembers({ roomId }, asUser(bob.id));
    expect(members).toHaveLength(2);
    expect((await parley.rooms.getRoom({ roomId }, asUser(bob.id))).room?.name).toBe("");
  });

  it("makes one group conversation per set of 3 to 8 people, whoever opens it and in whatever order, with every member", async () => {
    const people = await Promise.all(Array.from({ length: 4 }, () => newUser(parley)));
    const [ada, bob, cid, dee] = people as [(typeof people)[0], (typeof people)[0], (typeof people)[0], (typeof people)[0]];
    const first = await parley.rooms.openDirectRoom({ userIds: [bob.id, cid.id] }, asUser(ada.id));
    expect(first.created).toBe(true);
    expect(first.room).toMatchObject({ kind: RoomKind.DIRECT, name: "", memberCount: 3 });
    expect(first.room?.directMemberIds).toEqual([ada.id, bob.id, cid.id].sort());
    // The same three from another side, in another order, the caller named too: the same room.
    const fromCid = await parley.rooms.openDirectRoom({ userIds: [ada.id, cid.id, bob.id] }, asUser(cid.id));
    expect(fromCid).toMatchObject({ created: false, room: { id: first.room!.id } });
    // Adding someone is another conversation; the pair inside it is yet another.
    const four = await parley.rooms.openDirectRoom({ userIds: [bob.id, cid.id, dee.id] }, asUser(ada.id));
    const pair = await parley.rooms.openDirectRoom({ userIds: [bob.id] }, asUser(ada.id));
    expect(new Set([first.room!.id, four.room!.id, pair.room!.id]).size).toBe(3);
    expect(pair.room?.directMemberIds).toEqual([ada.id, bob.id].sort());
    expect((await parley.rooms.openDirectRoom({ userId: bob.id }, asUser(ada.id))).room?.id).toBe(pair.room!.id);
    const { members } = await parley.rooms.listMembers({ roomId: four.room!.id }, asUser(dee.id));
    expect(members.map((m) => m.membership?.userId).sort()).toEqual([ada.id, bob.id, cid.id, dee.id].sort());
    for (const user of people) {
      const mine = await parley.rooms.listMyRooms({}, asUser(user.id));
      const rooms = mine.rooms.filter((r) => r.room?.id === first.room!.id);
      expect(rooms.length, user.username).toBe(user === dee ? 0 : 1);
      if (rooms[0]) expect(rooms[0].room?.directMemberIds).toHaveLength(3);
    }
    // Its people are fixed, as in a 1:1 conversation.
    const refused = await Promise.all(
      [
        parley.rooms.inviteMember({ roomId: first.room!.id, userId: dee.id }, asUser(ada.id)),
        parley.rooms.leaveRoom({ roomId: first.room!.id }, asUser(bob.id)),
        parley.rooms.kickMember({ roomId: first.room!.id, userId: cid.id }, asUser(ada.id)),
      ].map(failure),
    );
    for (const error of refused) expect(error?.code).toBe(Code.FailedPrecondition);
    // Someone outside it cannot tell it exists.
    const hidden = await failure(parley.rooms.getRoom({ roomId: first.room!.id }, asUser(dee.id)));
    expect(hidden).toMatchObject({ code: Code.NotFound, rawMessage: "room not found" });
  });

  it("refuses a group of more than 8 people, one with someone unknown, and userId with userIds", async () => {
    const ada = await newUser(parley);
    const eight = await Promise.all(Array.from({ length: 8 }, () => newUser(parley)));
    const tooMany = await failure(parley.rooms.openDirectRoom({ userIds: eight.map((u) => u.id) }, asUser(ada.id)));
    expect(tooMany?.code).toBe(Code.InvalidArgument);
    const seven = await parley.rooms.openDirectRoom({ userIds: eight.slice(0, 7).map((u) => u.id) }, asUser(ada.id));
    expect(seven.room?.memberCount).toBe(8);
    const unknown = await failure(parley.rooms.openDirectRoom({ userIds: [eight[0]!.id, uuidv7()] }, asUser(ada.id)));
    expect(unknown).toMatchObject({ code: Code.NotFound, rawMessage: "user not found" });
    const both = await failure(parley.rooms.openDirectRoom({ userId: eight[0]!.id, userIds: [eight[1]!.id, eight[2]!.id] }, asUser(ada.id)));
    expect(both?.code).toBe(Code.InvalidArgument);
    const onlyMe = await failure(parley.rooms.openDirectRoom({ userIds: [ada.id] }, asUser(ada.id)));
    expect(onlyMe?.code).toBe(Code.InvalidArgument);
    const malformed = await failure(parley.rooms.openDirectRoom({ userIds: [eight[0]!.id, "bob"] }, asUser(ada.id)));
    expect(malformed?.code).toBe(Code.InvalidArgument);
  });
});
