// Running a room (issue 16): who may rename it, describe it, archive it, set its pin policy, remove
// people, change roles and transfer ownership; and what each change puts in the room lane.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { uuidv7 } from "uuidv7";
import { asUser } from "@parley/kit";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Role, RoomKind, type RoomSchema } from "@parley/proto/room/v1/room_pb";
import { failure, newRoom, newUser } from "./support.js";

let parley: TestParley<"room">;
beforeAll(async () => {
  parley = await startTestParley({ services: ["room"] });
});
afterAll(() => parley?.stop());

/** A room with an owner, an admin, two plain members, and an outsider who is in none of it. */
async function staffedRoom(kind = RoomKind.PRIVATE) {
  const [owner, admin, member, other, outsider] = [
    await newUser(parley),
    await newUser(parley),
    await newUser(parley),
    await newUser(parley),
    await newUser(parley),
  ];
  const room = await newRoom(parley, owner.id, kind);
  for (const user of [admin, member, other]) await parley.rooms.inviteMember({ roomId: room.id, userId: user.id }, asUser(owner.id));
  await parley.rooms.setMemberRole({ roomId: room.id, userId: admin.id, role: Role.ADMIN }, asUser(owner.id));
  return { room, owner, admin, member, other, outsider };
}

/** The Room fields UpdateRoom is given. */
type RoomFields = Omit<MessageInitShape<typeof RoomSchema>, "$typeName">;
const update = (roomId: string, userId: string, room: RoomFields, ...paths: string[]) =>
  parley.rooms.updateRoom({ roomId, room, updateMask: { paths } }, asUser(userId));
const roleOf = async (roomId: string, userId: string) => (await parley.rooms.getMembership({ roomId, userId })).membership?.role;

describe("room settings", () => {
  it("lets admins and the owner rename, describe, archive and set the pin policy; refuses plain members", async () => {
    const { room, owner, admin, member } = await staffedRoom();
    const settings: [RoomFields, string][] = [
      [{ name: "renamed" }, "name"],
      [{ topic: "a topic" }, "topic"],
      [{ description: "What this room is for.\n\n- one\n- two" }, "description"],
      [{ membersCanPin: true }, "members_can_pin"],
      [{ archived: true }, "archived"],
    ];
    for (const [values, path] of settings) {
      expect((await failure(update(room.id, member.id, values, path)))?.code, path).toBe(Code.PermissionDenied);
    }
    for (const [values, path] of settings) {
      const by = path === "archived" ? owner : admin;
      expect((await update(room.id, by.id, values, path)).room, path).toMatchObject(values);
    }
    const { room: now } = await parley.rooms.getRoom({ roomId: room.id }, asUser(member.id));
    expect(now).toMatchObject({ name: "renamed", topic: "a topic", description: "What this room is for.\n\n- one\n- two", membersCanPin: true, archived: true });
    // Unarchiving is an admin's too, and a plain member's attempt changes nothing.
    expect((await failure(update(room.id, member.id, { archived: false }, "archived")))?.code).toBe(Code.PermissionDenied);
    expect((await update(room.id, admin.id, { archived: false }, "archived")).room?.archived).toBe(false);
  });

  it("keeps a description to 1,000 characters, trimmed, and lets it be cleared", async () => {
    const { room, owner } = await staffedRoom(RoomKind.PUBLIC);
    const long = await failure(update(room.id, owner.id, { description: "x".repeat(1001) }, "description"));
    expect(long?.code).toBe(Code.InvalidArgument);
    expect(long?.rawMessage).toContain("at most 1000 characters");
    expect((await update(room.id, owner.id, { description: `  ${"é".repeat(1000)}  ` }, "description")).room?.description).toBe("é".repeat(1000));
    expect((await update(room.id, owner.id, { description: "" }, "description")).room?.description).toBe("");
  });

  it("refuses description changes on direct conversations", async () => {
    const [a, b] = [await newUser(parley), await newUser(parley)];
    const { room } = await parley.rooms.openDirectRoom({ userId: b.id }, asUser(a.id));
    expect((await failure(update(room!.id, a.id, { description: "ours" }, "description")))?.code).toBe(Code.FailedPrecondition);
  });
});

describe("transferring ownership", () => {
  it("makes a member the owner and the previous owner an admin, as two role changes in the lane", async () => {
    const { room, owner, member } = await staffedRoom();
    const before = (await parley.rooms.getRoom({ roomId: room.id }, asUser(owner.id))).room!.lastChange;
    const moved = await parley.rooms.transferOwnership({ roomId: room.id, userId: member.id }, asUser(owner.id));
    expect(moved.owner).toMatchObject({ userId: member.id, role: Role.OWNER });
    expect(moved.previousOwner).toMatchObject({ userId: owner.id, role: Role.ADMIN });
    expect(await roleOf(room.id, member.id)).toBe(Role.OWNER);
    expect(await roleOf(room.id, owner.id)).toBe(Role.ADMIN);
    const { changes } = await parley.rooms.listRoomChanges({ roomId: room.id, after: before, limit: 0 }, asUser(member.id));
    expect(changes.map((c) => [c.change, c.payload.case, c.payload.value && typeof c.payload.value === "object" && "role" in c.payload.value ? [c.payload.value.userId, c.payload.value.role] : null])).toEqual([
      [before + 1n, "memberRoleChanged", [member.id, Role.OWNER]],
      [before + 2n, "memberRoleChanged", [owner.id, Role.ADMIN]],
    ]);
    // The new owner runs the room now: the previous one can no longer change roles or transfer back.
    expect((await failure(parley.rooms.setMemberRole({ roomId: room.id, userId: owner.id, role: Role.MEMBER }, asUser(owner.id))))?.code).toBe(Code.PermissionDenied);
    expect((await failure(parley.rooms.transferOwnership({ roomId: room.id, userId: owner.id }, asUser(owner.id))))?.code).toBe(Code.PermissionDenied);
    await parley.rooms.setMemberRole({ roomId: room.id, userId: owner.id, role: Role.MEMBER }, asUser(member.id));
    expect(await roleOf(room.id, owner.id)).toBe(Role.MEMBER);
    // ...and the previous owner, no longer the owner, may leave.
    await parley.rooms.leaveRoom({ roomId: room.id }, asUser(owner.id));
    expect(await roleOf(room.id, owner.id)).toBeUndefined();
    // Gone from the private room, they cannot touch it any more (it is missing for them).
    expect((await failure(parley.rooms.kickMember({ roomId: room.id, userId: member.id }, asUser(owner.id))))?.code).toBe(Code.NotFound);
  });

  it("is the owner's only: admins and members are refused, and nothing changes", async () => {
    const { room, owner, admin, member, other } = await staffedRoom();
    for (const by of [admin, member]) {
      expect((await failure(parley.rooms.transferOwnership({ roomId: room.id, userId: other.id }, asUser(by.id))))?.code).toBe(Code.PermissionDenied);
    }
    expect(await roleOf(room.id, owner.id)).toBe(Role.OWNER);
    expect(await roleOf(room.id, other.id)).toBe(Role.MEMBER);
  });

  it("refuses oneself, someone not in the room, and direct conversations", async () => {
    const { room, owner, outsider } = await staffedRoom(RoomKind.PUBLIC);
    const self = await failure(parley.rooms.transferOwnership({ roomId: room.id, userId: owner.id }, asUser(owner.id)));
    expect(self?.code).toBe(Code.InvalidArgument);
    const stranger = await failure(parley.rooms.transferOwnership({ roomId: room.id, userId: outsider.id }, asUser(owner.id)));
    expect([stranger?.code, stranger?.rawMessage]).toEqual([Code.NotFound, "that user is not a member of this room"]);
    const [a, b] = [await newUser(parley), await newUser(parley)];
    const { room: direct } = await parley.rooms.openDirectRoom({ userId: b.id }, asUser(a.id));
    expect((await failure(parley.rooms.transferOwnership({ roomId: direct!.id, userId: b.id }, asUser(a.id))))?.code).toBe(Code.FailedPrecondition);
    expect(await roleOf(room.id, owner.id)).toBe(Role.OWNER);
  });

  it("leaves exactly one owner when two transfers race", async () => {
    const { room, owner, admin, member } = await staffedRoom();
    const results = await Promise.allSettled([
      parley.rooms.transferOwnership({ roomId: room.id, userId: admin.id }, asUser(owner.id)),
      parley.rooms.transferOwnership({ roomId: room.id, userId: member.id }, asUser(owner.id)),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const { members } = await parley.rooms.listMembers({ roomId: room.id }, asUser(owner.id));
    expect(members.filter((m) => m.membership?.role === Role.OWNER)).toHaveLength(1);
  });
});

describe("members and roles, as the room settings use them", () => {
  it("lets admins remove plain members but not admins or the owner; the owner removes admins", async () => {
    const { room, owner, admin, member, other } = await staffedRoom();
    expect((await failure(parley.rooms.kickMember({ roomId: room.id, userId: other.id }, asUser(member.id))))?.code).toBe(Code.PermissionDenied);
    expect((await failure(parley.rooms.kickMember({ roomId: room.id, userId: owner.id }, asUser(admin.id))))?.code).toBe(Code.PermissionDenied);
    await parley.rooms.kickMember({ roomId: room.id, userId: member.id }, asUser(admin.id));
    expect(await roleOf(room.id, member.id)).toBeUndefined();
    await parley.rooms.kickMember({ roomId: room.id, userId: admin.id }, asUser(owner.id));
    expect(await roleOf(room.id, admin.id)).toBeUndefined();
  });

  it("lets only the owner make or unmake admins", async () => {
    const { room, owner, admin, member } = await staffedRoom();
    for (const by of [admin, member]) {
      expect((await failure(parley.rooms.setMemberRole({ roomId: room.id, userId: member.id, role: Role.ADMIN }, asUser(by.id))))?.code).toBe(Code.PermissionDenied);
    }
    await parley.rooms.setMemberRole({ roomId: room.id, userId: admin.id, role: Role.MEMBER }, asUser(owner.id));
    expect(await roleOf(room.id, admin.id)).toBe(Role.MEMBER);
  });

  it("keeps the last owner in until they transfer ownership", async () => {
    const { room, owner, member } = await staffedRoom();
    const refused = await failure(parley.rooms.leaveRoom({ roomId: room.id }, asUser(owner.id)));
    expect(refused?.code).toBe(Code.FailedPrecondition);
    await parley.rooms.transferOwnership({ roomId: room.id, userId: member.id }, asUser(owner.id));
    await parley.rooms.leaveRoom({ roomId: room.id }, asUser(owner.id));
    expect(await roleOf(room.id, owner.id)).toBeUndefined();
  });
});

describe("a private room one is not in", () => {
  it("answers every settings call with the NOT_FOUND of a random id", async () => {
    const { room, owner, member, outsider } = await staffedRoom(RoomKind.PRIVATE);
    const as = asUser(outsider.id);
    const calls: [string, (roomId: string) => Promise<unknown>][] = [
      ["rename", (roomId) => update(roomId, outsider.id, { name: "mine" }, "name")],
      ["describe", (roomId) => update(roomId, outsider.id, { description: "mine" }, "description")],
      ["archive", (roomId) => update(roomId, outsider.id, { archived: true }, "archived")],
      ["pin policy", (roomId) => update(roomId, outsider.id, { membersCanPin: true }, "members_can_pin")],
      ["kick", (roomId) => parley.rooms.kickMember({ roomId, userId: member.id }, as)],
      ["role", (roomId) => parley.rooms.setMemberRole({ roomId, userId: member.id, role: Role.ADMIN }, as)],
      ["transfer", (roomId) => parley.rooms.transferOwnership({ roomId, userId: outsider.id }, as)],
      ["invite", (roomId) => parley.rooms.inviteMember({ roomId, userId: outsider.id }, as)],
    ];
    for (const [name, call] of calls) {
      const hidden = await failure(call(room.id));
      const missing = await failure(call(uuidv7()));
      expect([hidden?.code, hidden?.rawMessage], name).toEqual([Code.NotFound, "room not found"]);
      expect([missing?.code, missing?.rawMessage], name).toEqual([hidden?.code, hidden?.rawMessage]);
    }
    // Nothing changed.
    const { room: same } = await parley.rooms.getRoom({ roomId: room.id }, asUser(owner.id));
    expect(same).toMatchObject({ name: room.name, description: "", archived: false, membersCanPin: false });
    expect(await roleOf(room.id, owner.id)).toBe(Role.OWNER);
  });
});
