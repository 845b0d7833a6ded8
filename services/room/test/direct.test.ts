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
});
