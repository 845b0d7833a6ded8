import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { uuidv7 } from "uuidv7";
import { asUser } from "@parley/kit";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { Role, RoomKind } from "@parley/proto/room/v1/room_pb";
import { failure, newRoom, newUser, tag } from "./support.js";

let parley: TestParley<"room" | "message">;
beforeAll(async () => {
  parley = await startTestParley({ services: ["room", "message"] });
});
afterAll(() => parley?.stop());

describe("creating and reading rooms", () => {
  it("creates public and private rooms with the caller as owner, name and topic trimmed", async () => {
    const owner = await newUser(parley);
    for (const kind of [RoomKind.PUBLIC, RoomKind.PRIVATE]) {
      const { room } = await parley.rooms.createRoom({ name: "  Général 🎉 ", topic: " what we talk about ", kind }, asUser(owner.id));
      expect(room).toMatchObject({ kind, name: "Général 🎉", topic: "what we talk about", creatorId: owner.id, archived: false, memberCount: 1 });
      expect(room?.directMemberIds).toEqual([]);
      expect(room?.createTime).toBeDefined();
      const got = await parley.rooms.getRoom({ roomId: room!.id }, asUser(owner.id));
      expect(got.room?.name).toBe("Général 🎉");
      expect(got.membership).toMatchObject({ roomId: room!.id, userId: owner.id, role: Role.OWNER, lastReadSeq: 0n });
    }
  });

  it("refuses bad names, topics and kinds with INVALID_ARGUMENT naming the field", async () => {
    const owner = await newUser(parley);
    const cases: [{ name: string; topic?: string; kind: RoomKind }, string][] = [
      [{ name: "", kind: RoomKind.PUBLIC }, "name"],
      [{ name: "   ", kind: RoomKind.PUBLIC }, "name"],
      [{ name: "x".repeat(81), kind: RoomKind.PUBLIC }, "name"],
      [{ name: "two\nlines", kind: RoomKind.PUBLIC }, "name"],
      [{ name: "nul\u0000", kind: RoomKind.PUBLIC }, "name"],
      [{ name: "ok", topic: "t".repeat(501), kind: RoomKind.PUBLIC }, "topic"],
      [{ name: "ok", kind: RoomKind.DIRECT }, "kind"],
      [{ name: "ok", kind: RoomKind.UNSPECIFIED }, "kind"],
    ];
    for (const [request, field] of cases) {
      const error = await failure(parley.rooms.createRoom(request, asUser(owner.id)));
      expect(error?.code, JSON.stringify(request)).toBe(Code.InvalidArgument);
      expect(error?.metadata.get("parley-field"), JSON.stringify(request)).toBe(field);
    }
    // 80 characters is fine even when they take two UTF-16 units each.
    const { room } = await parley.rooms.createRoom({ name: "😀".repeat(80), kind: RoomKind.PUBLIC }, asUser(owner.id));
    expect(room?.name).toBe("😀".repeat(80));
  });

  it("needs a signed-in caller on every call but GetMembership", async () => {
    const owner = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    // failure() is attached at once, so that no rejection is left unhandled while others run.
    const errors = await Promise.all([
      parley.rooms.createRoom({ name: "x", kind: RoomKind.PUBLIC }),
      parley.rooms.getRoom({ roomId: room.id }),
      parley.rooms.updateRoom({ roomId: room.id, room: { name: "y" }, updateMask: { paths: ["name"] } }),
      parley.rooms.listMyRooms({}),
      parley.rooms.listPublicRooms({}),
      parley.rooms.joinRoom({ roomId: room.id }),
      parley.rooms.leaveRoom({ roomId: room.id }),
      parley.rooms.inviteMember({ roomId: room.id, userId: owner.id }),
      parley.rooms.kickMember({ roomId: room.id, userId: owner.id }),
      parley.rooms.setMemberRole({ roomId: room.id, userId: owner.id, role: Role.ADMIN }),
      parley.rooms.listMembers({ roomId: room.id }),
      parley.rooms.openDirectRoom({ userId: owner.id }),
    ].map(failure));
    for (const [i, error] of errors.entries()) expect(error?.code, `call ${i}`).toBe(Code.Unauthenticated);
    const { membership } = await parley.rooms.getMembership({ roomId: room.id, userId: owner.id });
    expect(membership?.role).toBe(Role.OWNER);
  });

  it("shows a public room to anyone, with the membership only for members", async () => {
    const owner = await newUser(parley);
    const visitor = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    const seen = await parley.rooms.getRoom({ roomId: room.id }, asUser(visitor.id));
    expect(seen.room?.id).toBe(room.id);
    expect(seen.membership).toBeUndefined();
  });
});

describe("a private room does not exist for non-members", () => {
  it("answers every call about it exactly like a room id that does not exist", async () => {
    const owner = await newUser(parley);
    const outsider = await newUser(parley);
    const room = await newRoom(parley, owner.id, RoomKind.PRIVATE);
    const callsFor = (roomId: string) => [
      parley.rooms.getRoom({ roomId }, asUser(outsider.id)),
      parley.rooms.joinRoom({ roomId }, asUser(outsider.id)),
      parley.rooms.listMembers({ roomId }, asUser(outsider.id)),
      parley.rooms.updateRoom({ roomId, room: { name: "mine" }, updateMask: { paths: ["name"] } }, asUser(outsider.id)),
      parley.rooms.leaveRoom({ roomId }, asUser(outsider.id)),
      parley.rooms.inviteMember({ roomId, userId: outsider.id }, asUser(outsider.id)),
      parley.rooms.kickMember({ roomId, userId: owner.id }, asUser(outsider.id)),
      parley.rooms.setMemberRole({ roomId, userId: owner.id, role: Role.ADMIN }, asUser(outsider.id)),
      parley.messages.markRead({ roomId, seq: 1n }, asUser(outsider.id)),
    ];
    const existing = await Promise.all(callsFor(room.id).map(failure));
    const missing = await Promise.all(callsFor(uuidv7()).map(failure));
    for (const [i, error] of existing.entries()) {
      expect(error?.code, `call ${i}`).toBe(Code.NotFound);
      expect(error?.rawMessage, `call ${i}`).toBe(missing[i]?.rawMessage);
      expect(missing[i]?.code, `call ${i}`).toBe(Code.NotFound);
    }
    // And it is not listed anywhere the outsider looks.
    const mine = await parley.rooms.listMyRooms({}, asUser(outsider.id));
    expect(mine.rooms.map((r) => r.room?.id)).not.toContain(room.id);
    const directory = await parley.rooms.listPublicRooms({ query: room.name }, asUser(outsider.id));
    expect(directory.rooms).toEqual([]);
    expect((await parley.rooms.getMembership({ roomId: room.id, userId: outsider.id })).membership).toBeUndefined();
  });

  it("gives INVALID_ARGUMENT for malformed ids", async () => {
    const user = await newUser(parley);
    const errors = await Promise.all([
      parley.rooms.getRoom({ roomId: "nope" }, asUser(user.id)),
      parley.rooms.joinRoom({ roomId: "' or 1=1 --" }, asUser(user.id)),
      parley.rooms.inviteMember({ roomId: uuidv7(), userId: "x" }, asUser(user.id)),
      parley.rooms.openDirectRoom({ userId: "" }, asUser(user.id)),
      parley.rooms.getMembership({ roomId: "", userId: user.id }),
    ].map(failure));
    for (const [i, error] of errors.entries()) expect(error?.code, `call ${i}`).toBe(Code.InvalidArgument);
  });
});

describe("joining", () => {
  it("joins a public room once: joining again returns the same membership", async () => {
    const owner = await newUser(parley);
    const joiner = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    const first = await parley.rooms.joinRoom({ roomId: room.id }, asUser(joiner.id));
    expect(first.membership).toMatchObject({ userId: joiner.id, role: Role.MEMBER });
    expect(first.room?.memberCount).toBe(2);
    const again = await parley.rooms.joinRoom({ roomId: room.id }, asUser(joiner.id));
    expect(again.membership?.joinTime).toEqual(first.membership?.joinTime);
    expect(again.room?.memberCount).toBe(2);
    // Racing joins of the same person end in one membership.
    const racer = await newUser(parley);
    await Promise.all(Array.from({ length: 4 }, () => parley.rooms.joinRoom({ roomId: room.id }, asUser(racer.id))));
    expect((await parley.rooms.getRoom({ roomId: room.id }, asUser(owner.id))).room?.memberCount).toBe(3);
  });

  it("never lets anyone join a private room uninvited", async () => {
    const owner = await newUser(parley);
    const stranger = await newUser(parley);
    const room = await newRoom(parley, owner.id, RoomKind.PRIVATE);
    expect((await failure(parley.rooms.joinRoom({ roomId: room.id }, asUser(stranger.id))))?.code).toBe(Code.NotFound);
    // A member "joining" again is harmless.
    const { membership } = await parley.rooms.joinRoom({ roomId: room.id }, asUser(owner.id));
    expect(membership?.role).toBe(Role.OWNER);
  });
});

describe("updating", () => {
  it("lets admins change name, topic and archived; members get PERMISSION_DENIED", async () => {
    const owner = await newUser(parley);
    const member = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    await parley.rooms.joinRoom({ roomId: room.id }, asUser(member.id));
    const denied = await failure(
      parley.rooms.updateRoom({ roomId: room.id, room: { name: "taken over" }, updateMask: { paths: ["name"] } }, asUser(member.id)),
    );
    expect(denied?.code).toBe(Code.PermissionDenied);
    await parley.rooms.setMemberRole({ roomId: room.id, userId: member.id, role: Role.ADMIN }, asUser(owner.id));
    const { room: updated } = await parley.rooms.updateRoom(
      { roomId: room.id, room: { name: " Renamed ", topic: "new topic", archived: true }, updateMask: { paths: ["name", "topic"] } },
      asUser(member.id),
    );
    expect(updated).toMatchObject({ name: "Renamed", topic: "new topic", archived: false, memberCount: 2 });
    expect((await parley.rooms.getRoom({ roomId: room.id }, asUser(owner.id))).room?.name).toBe("Renamed");
  });

  it("refuses an empty mask, unknown fields and bad values", async () => {
    const owner = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    const update = (paths: string[], values = {}) =>
      failure(parley.rooms.updateRoom({ roomId: room.id, room: values, updateMask: { paths } }, asUser(owner.id)));
    expect((await update([]))?.code).toBe(Code.InvalidArgument);
    expect((await update(["kind"]))?.rawMessage).toContain("kind is not an editable field");
    expect((await update(["creator_id"]))?.code).toBe(Code.InvalidArgument);
    expect((await update(["name"], { name: " " }))?.metadata.get("parley-field")).toBe("name");
  });

  it("archives a room: it leaves the directory, nobody can join, members stay", async () => {
    const owner = await newUser(parley);
    const late = await newUser(parley);
    const room = await newRoom(parley, owner.id, RoomKind.PUBLIC, `archive ${tag()}`);
    expect((await parley.rooms.listPublicRooms({ query: room.name }, asUser(late.id))).rooms).toHaveLength(1);
    await parley.rooms.updateRoom({ roomId: room.id, room: { archived: true }, updateMask: { paths: ["archived"] } }, asUser(owner.id));
    expect((await parley.rooms.listPublicRooms({ query: room.name }, asUser(late.id))).rooms).toHaveLength(0);
    const join = await failure(parley.rooms.joinRoom({ roomId: room.id }, asUser(late.id)));
    expect(join?.code).toBe(Code.FailedPrecondition);
    const access = await parley.rooms.getMembership({ roomId: room.id, userId: owner.id });
    expect(access).toMatchObject({ roomKind: RoomKind.PUBLIC, roomArchived: true });
    expect(access.membership?.role).toBe(Role.OWNER);
    // Unarchiving opens it again.
    await parley.rooms.updateRoom({ roomId: room.id, room: { archived: false }, updateMask: { paths: ["archived"] } }, asUser(owner.id));
    await expect(parley.rooms.joinRoom({ roomId: room.id }, asUser(late.id))).resolves.toBeDefined();
  });
});

describe("who may use @room and @here (issue 16)", () => {
  it("lets every member by default; admins restrict it with members_can_mention_everyone, and GetMembership carries it", async () => {
    const owner = await newUser(parley);
    const member = await newUser(parley);
    const room = await newRoom(parley, owner.id);
    await parley.rooms.joinRoom({ roomId: room.id }, asUser(member.id));
    expect(room.membersCanMentionEveryone).toBe(true);
    expect((await parley.rooms.getMembership({ roomId: room.id, userId: member.id })).roomMembersCanMentionEveryone).toBe(true);
    const set = (userId: string, value: boolean) =>
      parley.rooms.updateRoom(
        { roomId: room.id, room: { membersCanMentionEveryone: value }, updateMask: { paths: ["members_can_mention_everyone"] } },
        asUser(userId),
      );
    expect((await failure(set(member.id, false)))?.code).toBe(Code.PermissionDenied);
    const { room: restricted } = await set(owner.id, false);
    expect(restricted).toMatchObject({ membersCanMentionEveryone: false, membersCanPin: false, name: room.name });
    expect((await parley.rooms.getMembership({ roomId: room.id, userId: member.id })).roomMembersCanMentionEveryone).toBe(false);
    expect((await parley.rooms.getRoom({ roomId: room.id }, asUser(member.id))).room?.membersCanMentionEveryone).toBe(false);
    // A room change like a rename: it takes the room lane's next position.
    expect(restricted!.lastChange).toBeGreaterThan(room.lastChange);
    await set(owner.id, true);
    expect((await parley.rooms.getMembership({ roomId: room.id, userId: owner.id })).roomMembersCanMentionEveryone).toBe(true);
  });
});

describe("the public directory", () => {
  it("lists public rooms by name, filtered case-insensitively, every one once across pages", async () => {
    const owner = await newUser(parley);
    const visitor = await newUser(parley);
    const t = tag();
    const names = [`b ${t} two`, `A ${t} one`, `c ${t} three`, `D ${t} four`, `e ${t} five`];
    for (const name of names) await newRoom(parley, owner.id, RoomKind.PUBLIC, name);
    await newRoom(parley, owner.id, RoomKind.PRIVATE, `f ${t} private`);
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await parley.rooms.listPublicRooms({ query: ` ${t.toUpperCase()} `, pageSize: 2, pageToken }, asUser(visitor.id));
      expect(page.rooms.length).toBeLessThanOrEqual(2);
      seen.push(...page.rooms.map((r) => r.name));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken);
    expect(seen).toEqual([`A ${t} one`, `b ${t} two`, `c ${t} three`, `D ${t} four`, `e ${t} five`]);
    expect(pages).toBe(3);
    const unfiltered = await parley.rooms.listPublicRooms({ pageSize: 100 }, asUser(visitor.id));
    expect(unfiltered.rooms.every((r) => r.kind === RoomKind.PUBLIC && !r.archived)).toBe(true);
    expect(unfiltered.rooms[0]?.memberCount).toBeGreaterThan(0);
  });

  it("treats LIKE wildcards literally and rejects bad paging", async () => {
    const user = await newUser(parley);
    await newRoom(parley, user.id, RoomKind.PUBLIC, `100% ${tag()}`);
    const percent = await parley.rooms.listPublicRooms({ query: "0%", pageSize: 100 }, asUser(user.id));
    expect(percent.rooms.length).toBeGreaterThan(0);
    expect(percent.rooms.every((r) => r.name.includes("0%"))).toBe(true);
    expect((await parley.rooms.listPublicRooms({ query: "_" }, asUser(user.id))).rooms.every((r) => r.name.includes("_"))).toBe(true);
    expect((await failure(parley.rooms.listPublicRooms({ pageSize: 101 }, asUser(user.id))))?.code).toBe(Code.InvalidArgument);
    expect((await failure(parley.rooms.listPublicRooms({ pageToken: "garbage" }, asUser(user.id))))?.code).toBe(Code.InvalidArgument);
  });
});

describe("GetMembership", () => {
  it("gives the role, the room's kind and archived flag, and nothing for non-members or unknown rooms", async () => {
    const owner = await newUser(parley);
    const other = await newUser(parley);
    const room = await newRoom(parley, owner.id, RoomKind.PRIVATE);
    const found = await parley.rooms.getMembership({ roomId: room.id, userId: owner.id });
    expect(found).toMatchObject({ roomKind: RoomKind.PRIVATE, roomArchived: false });
    expect(found.membership).toMatchObject({ roomId: room.id, userId: owner.id, role: Role.OWNER, lastReadSeq: 0n });
    const none = await parley.rooms.getMembership({ roomId: room.id, userId: other.id });
    expect(none.membership).toBeUndefined();
    expect(none.roomKind).toBe(RoomKind.UNSPECIFIED);
    const unknown = await parley.rooms.getMembership({ roomId: uuidv7(), userId: owner.id });
    expect(unknown.membership).toBeUndefined();
  });
});
