import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, type Interceptor } from "@connectrpc/connect";
import { uuidv7 } from "uuidv7";
import { asUser, createLogger, createServiceClient, InternalAuth, type GrpcServer } from "@parley/kit";
import { testDatabase } from "@parley/kit/testing";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { Role, RoomKind, RoomService } from "@parley/proto/room/v1/room_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { build, initORM, type RoomDb } from "../src/index.js";
import { failure, newRoom, newUser } from "./support.js";

let parley: TestParley<"room">;
beforeAll(async () => {
  parley = await startTestParley({ services: ["room"] });
});
afterAll(() => parley?.stop());

/** A room with an owner, an admin and a plain member. */
async function staffedRoom(kind = RoomKind.PRIVATE) {
  const [owner, admin, member] = [await newUser(parley), await newUser(parley), await newUser(parley)];
  const room = await newRoom(parley, owner.id, kind);
  for (const user of [admin, member]) await parley.rooms.inviteMember({ roomId: room.id, userId: user.id }, asUser(owner.id));
  await parley.rooms.setMemberRole({ roomId: room.id, userId: admin.id, role: Role.ADMIN }, asUser(owner.id));
  return { room, owner, admin, member };
}

describe("inviting", () => {
  it("lets admins of a private room invite, and refuses plain members", async () => {
    const { room, admin, member } = await staffedRoom(RoomKind.PRIVATE);
    const guest = await newUser(parley);
    const denied = await failure(parley.rooms.inviteMember({ roomId: room.id, userId: guest.id }, asUser(member.id)));
    expect(denied?.code).toBe(Code.PermissionDenied);
    expect((await parley.rooms.getMembership({ roomId: room.id, userId: guest.id })).membership).toBeUndefined();
    const { membership } = await parley.rooms.inviteMember({ roomId: room.id, userId: guest.id }, asUser(admin.id));
    expect(membership).toMatchObject({ roomId: room.id, userId: guest.id, role: Role.MEMBER, lastReadSeq: 0n });
    // The guest sees the room now.
    expect((await parley.rooms.getRoom({ roomId: room.id }, asUser(guest.id))).membership?.role).toBe(Role.MEMBER);
  });

  it("lets any member of a public room invite, but not a visitor who is not in it", async () => {
    const { room, member } = await staffedRoom(RoomKind.PUBLIC);
    const [guest, visitor] = [await newUser(parley), await newUser(parley)];
    const fromVisitor = await failure(parley.rooms.inviteMember({ roomId: room.id, userId: guest.id }, asUser(visitor.id)));
    expect(fromVisitor?.code).toBe(Code.PermissionDenied);
    const { membership } = await parley.rooms.inviteMember({ roomId: room.id, userId: guest.id }, asUser(member.id));
    expect(membership?.userId).toBe(guest.id);
  });

  it("gives NOT_FOUND for an unknown user, and leaves an existing member as they are", async () => {
    const { room, owner, admin } = await staffedRoom();
    const unknown = await failure(parley.rooms.inviteMember({ roomId: room.id, userId: uuidv7() }, asUser(owner.id)));
    expect(unknown?.code).toBe(Code.NotFound);
    expect(unknown?.rawMessage).toBe("user not found");
    const again = await parley.rooms.inviteMember({ roomId: room.id, userId: admin.id }, asUser(owner.id));
    expect(again.membership?.role).toBe(Role.ADMIN);
  });

  it("refuses to add anyone to an archived room", async () => {
    const { room, owner } = await staffedRoom();
    await parley.rooms.updateRoom({ roomId: room.id, room: { archived: true }, updateMask: { paths: ["archived"] } }, asUser(owner.id));
    const guest = await newUser(parley);
    const error = await failure(parley.rooms.inviteMember({ roomId: room.id, userId: guest.id }, asUser(owner.id)));
    expect(error?.code).toBe(Code.FailedPrecondition);
  });
});

describe("roles and kicking", () => {
  it("lets only the owner change roles, to admin or member", async () => {
    const { room, owner, admin, member } = await staffedRoom();
    const byAdmin = await failure(parley.rooms.setMemberRole({ roomId: room.id, userId: member.id, role: Role.ADMIN }, asUser(admin.id)));
    expect(byAdmin?.code).toBe(Code.PermissionDenied);
    for (const role of [Role.OWNER, Role.UNSPECIFIED]) {
      const error = await failure(parley.rooms.setMemberRole({ roomId: room.id, userId: member.id, role }, asUser(owner.id)));
      expect(error?.code).toBe(Code.InvalidArgument);
    }
    const ownRole = await failure(parley.rooms.setMemberRole({ roomId: room.id, userId: owner.id, role: Role.MEMBER }, asUser(owner.id)));
    expect(ownRole?.code).toBe(Code.FailedPrecondition);
    const stranger = await failure(parley.rooms.setMemberRole({ roomId: room.id, userId: uuidv7(), role: Role.ADMIN }, asUser(owner.id)));
    expect(stranger?.code).toBe(Code.NotFound);
    const { membership } = await parley.rooms.setMemberRole({ roomId: room.id, userId: admin.id, role: Role.MEMBER }, asUser(owner.id));
    expect(membership?.role).toBe(Role.MEMBER);
    expect((await parley.rooms.getMembership({ roomId: room.id, userId: admin.id })).membership?.role).toBe(Role.MEMBER);
  });

  it("never lets anyone kick the owner", async () => {
    const { room, owner, admin } = await staffedRoom();
    const error = await failure(parley.rooms.kickMember({ roomId: room.id, userId: owner.id }, asUser(admin.id)));
    expect(error?.code).toBe(Code.PermissionDenied);
    expect((await parley.rooms.getMembership({ roomId: room.id, userId: owner.id })).membership?.role).toBe(Role.OWNER);
  });

  it("does not let a plain member kick anyone", async () => {
    const { room, admin, member } = await staffedRoom(RoomKind.PUBLIC);
    const other = await newUser(parley);
    await parley.rooms.joinRoom({ roomId: room.id }, asUser(other.id));
    for (const target of [other, admin]) {
      const error = await failure(parley.rooms.kickMember({ roomId: room.id, userId: target.id }, asUser(member.id)));
      expect(error?.code).toBe(Code.PermissionDenied);
    }
  });

  it("lets an admin kick a member, who loses access at once", async () => {
    const { room, admin, member } = await staffedRoom(RoomKind.PRIVATE);
    await parley.rooms.kickMember({ roomId: room.id, userId: member.id }, asUser(admin.id));
    expect((await parley.rooms.getMembership({ roomId: room.id, userId: member.id })).membership).toBeUndefined();
    const getRoom = await failure(parley.rooms.getRoom({ roomId: room.id }, asUser(member.id)));
    expect(getRoom?.code).toBe(Code.NotFound);
    expect((await parley.rooms.listMyRooms({}, asUser(member.id))).rooms.map((r) => r.room?.id)).not.toContain(room.id);
    // Kicking them again: they are not a member any more.
    const again = await failure(parley.rooms.kickMember({ roomId: room.id, userId: member.id }, asUser(admin.id)));
    expect(again?.code).toBe(Code.NotFound);
  });

  it("lets only the owner kick an admin, and nobody kick themselves", async () => {
    const { room, owner, admin } = await staffedRoom();
    const second = await newUser(parley);
    await parley.rooms.inviteMember({ roomId: room.id, userId: second.id }, asUser(owner.id));
    await parley.rooms.setMemberRole({ roomId: room.id, userId: second.id, role: Role.ADMIN }, asUser(owner.id));
    const byAdmin = await failure(parley.rooms.kickMember({ roomId: room.id, userId: second.id }, asUser(admin.id)));
    expect(byAdmin?.code).toBe(Code.PermissionDenied);
    const self = await failure(parley.rooms.kickMember({ roomId: room.id, userId: admin.id }, asUser(admin.id)));
    expect(self?.code).toBe(Code.InvalidArgument);
    await parley.rooms.kickMember({ roomId: room.id, userId: second.id }, asUser(owner.id));
    expect((await parley.rooms.getMembership({ roomId: room.id, userId: second.id })).membership).toBeUndefined();
  });
});

describe("leaving", () => {
  it("lets a member leave, after which a private room is gone for them", async () => {
    const { room, member } = await staffedRoom(RoomKind.PRIVATE);
    await parley.rooms.leaveRoom({ roomId: room.id }, asUser(member.id));
    expect((await parley.rooms.getMembership({ roomId: room.id, userId: member.id })).membership).toBeUndefined();
    expect((await failure(parley.rooms.leaveRoom({ roomId: room.id }, asUser(member.id))))?.code).toBe(Code.NotFound);
  });

  it("keeps the owner in while others remain; the last one out closes the room", async () => {
    const { room, owner, admin, member } = await staffedRoom(RoomKind.PUBLIC);
    const blocked = await failure(parley.rooms.leaveRoom({ roomId: room.id }, asUser(owner.id)));
    expect(blocked?.code).toBe(Code.FailedPrecondition);
    expect(blocked?.rawMessage).toBe("the owner cannot leave while other members remain");
    await parley.rooms.leaveRoom({ roomId: room.id }, asUser(admin.id));
    await parley.rooms.kickMember({ roomId: room.id, userId: member.id }, asUser(owner.id));
    await parley.rooms.leaveRoom({ roomId: room.id }, asUser(owner.id));
    const { room: after } = await parley.rooms.getRoom({ roomId: room.id }, asUser(member.id));
    expect(after).toMatchObject({ archived: true, memberCount: 0 });
  });

  it("treats leaving a public room one is not in as done", async () => {
    const { room } = await staffedRoom(RoomKind.PUBLIC);
    const visitor = await newUser(parley);
    await expect(parley.rooms.leaveRoom({ roomId: room.id }, asUser(visitor.id))).resolves.toBeDefined();
  });
});

describe("listing members", () => {
  it("pages through every member once, in a stable order, with their profiles", async () => {
    const { room, owner, admin, member } = await staffedRoom(RoomKind.PUBLIC);
    const more = [await newUser(parley, "Zoë"), await newUser(parley)];
    for (const user of more) await parley.rooms.joinRoom({ roomId: room.id }, asUser(user.id));
    const everyone = [owner, admin, member, ...more];
    const visitor = await newUser(parley);
    const seen: { id: string; role: Role; name?: string; email?: string }[] = [];
    let pageToken = "";
    do {
      const page = await parley.rooms.listMembers({ roomId: room.id, pageSize: 2, pageToken }, asUser(visitor.id));
      expect(page.members.length).toBeLessThanOrEqual(2);
      for (const m of page.members) seen.push({ id: m.membership!.userId, role: m.membership!.role, name: m.user?.displayName, email: m.user?.email });
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen.map((s) => s.id)).toEqual(everyone.map((u) => u.id).sort());
    for (const user of everyone) {
      const entry = seen.find((s) => s.id === user.id)!;
      expect(entry.name).toBe(user.displayName);
      // Profiles as the caller may see them: nobody else's email.
      expect(entry.email).toBeUndefined();
    }
    expect(seen.find((s) => s.id === owner.id)?.role).toBe(Role.OWNER);
    expect(seen.find((s) => s.id === more[0]!.id)?.name).toBe("Zoë");
    const all = await parley.rooms.listMembers({ roomId: room.id }, asUser(owner.id));
    expect(all.members).toHaveLength(5);
    expect(all.nextPageToken).toBe("");
  });

  it("rejects bad page sizes and tokens", async () => {
    const { room, owner } = await staffedRoom();
    for (const request of [{ pageSize: 201 }, { pageSize: -1 }, { pageToken: "garbage" }, { pageToken: Buffer.from('["x"]').toString("base64url") }]) {
      const error = await failure(parley.rooms.listMembers({ roomId: room.id, ...request }, asUser(owner.id)));
      expect(error?.code, JSON.stringify(request)).toBe(Code.InvalidArgument);
    }
  });
});

/**
 * A second room service on its own database, next to the test Parley: its user-service client
 * counts BatchGetUsers calls. It calls no other service (the message service calls it).
 */
describe("a room service of its own", () => {
  let db: RoomDb;
  let server: GrpcServer;
  let rooms: ReturnType<typeof createServiceClient<typeof RoomService>>;
  let address: string;
  const database = testDatabase();
  let batchCalls = 0;

  beforeAll(async () => {
    const log = createLogger("test", "silent");
    const counting: Interceptor = (next) => async (request) => {
      if (request.method.name === "BatchGetUsers") batchCalls++;
      return next(request);
    };
    db = await initORM({ databaseUrl: database.databaseUrl, dataDir: database.dataDir, log });
    server = build({
      db,
      log,
      broker: parley.broker,
      users: createServiceClient(UserService, parley.addresses.user, { interceptors: [counting], internalAuth: parley.internalAuth }),
    }, parley.internalAuth);
    address = `127.0.0.1:${await server.listen(0, "127.0.0.1")}`;
    rooms = createServiceClient(RoomService, address, { internalAuth: parley.internalAuth });
  });
  afterAll(async () => {
    await server?.shutdown(1_000);
    await db?.orm.close();
    await database.drop();
  });

  it("was migrated to exactly the schema its entities describe", async () => {
    expect(await db.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false })).toBe("");
  });

  it("asks the user service once per page of members", async () => {
    const owner = await newUser(parley);
    const { room } = await rooms.createRoom({ name: "batched", kind: RoomKind.PUBLIC }, asUser(owner.id));
    for (let i = 0; i < 6; i++) await rooms.joinRoom({ roomId: room!.id }, asUser((await newUser(parley)).id));
    batchCalls = 0;
    let pageToken = "";
    let pages = 0;
    let withProfiles = 0;
    do {
      const page = await rooms.listMembers({ roomId: room!.id, pageSize: 3, pageToken }, asUser(owner.id));
      withProfiles += page.members.filter((m) => m.user?.id === m.membership?.userId).length;
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(withProfiles).toBe(7);
    expect(batchCalls).toBe(pages);
  });

  it("lists my rooms with their memberships, newest membership first, and no message stats", async () => {
    const me = await newUser(parley);
    const other = await newUser(parley);
    const { room: first } = await rooms.createRoom({ name: "first", kind: RoomKind.PRIVATE }, asUser(me.id));
    const { room: second } = await rooms.createRoom({ name: "second", kind: RoomKind.PUBLIC }, asUser(other.id));
    await new Promise((resolve) => setTimeout(resolve, 5));
    await rooms.joinRoom({ roomId: second!.id }, asUser(me.id));
    const { rooms: mine } = await rooms.listMyRooms({}, asUser(me.id));
    expect(mine.map((r) => r.room?.id)).toEqual([second!.id, first!.id]);
    for (const summary of mine) {
      expect(summary).toMatchObject({ lastSeq: 0n, unreadCount: 0n });
      expect(summary.lastActivityTime).toBeUndefined();
    }
    expect(mine[0]?.membership?.role).toBe(Role.MEMBER);
    expect(mine[0]?.room?.memberCount).toBe(2);
  });

  it("leaves capping read markers to the message service: MarkRead is gone, MoveReadMarker is the message service's", async () => {
    const me = await newUser(parley);
    const { room } = await rooms.createRoom({ name: "unreadable", kind: RoomKind.PRIVATE }, asUser(me.id));
    expect((await failure(rooms.markRead({ roomId: room!.id, seq: 5n }, asUser(me.id))))?.code).toBe(Code.Unimplemented);
    expect((await failure(rooms.moveReadMarker({ roomId: room!.id, seq: 5n }, asUser(me.id))))?.code).toBe(Code.PermissionDenied);
    const asMessage = createServiceClient(RoomService, address, { internalAuth: new InternalAuth(parley.env.INTERNAL_AUTH_SECRET!, "message") });
    expect((await asMessage.moveReadMarker({ roomId: room!.id, seq: 5n }, asUser(me.id))).lastReadSeq).toBe(5n);
  });
});
