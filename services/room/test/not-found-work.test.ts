// A private room one is not in must be indistinguishable from a room that does not exist,
// in timing too. Timing would flake, so the test compares the work: the SQL statements each
// call runs and the calls it makes to other services, with the answers, for both cases.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, type Client, type Interceptor } from "@connectrpc/connect";
import { uuidv7 } from "uuidv7";
import { asUser, createBroker, createServiceClient, freePort, parseEnv } from "@parley/kit";
import { sqlRecorder, TEST_INTERNAL_SECRET, testDatabase, testInternalAuth } from "@parley/kit/testing";
import { Role, RoomKind, RoomService } from "@parley/proto/room/v1/room_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { build, createRoomDeps, roomEnv } from "../src/index.js";

const sql = sqlRecorder();
const otherServiceCalls: string[] = [];
const database = testDatabase();
let rooms: Client<typeof RoomService>;
let asMessage: Client<typeof RoomService>;
let stopRooms: () => Promise<void>;

beforeAll(async () => {
  // Nothing listens there: none of these calls may need another service, and any that tried is counted.
  const nowhere = `127.0.0.1:${await freePort()}`;
  const config = parseEnv(roomEnv, { ...process.env, INTERNAL_AUTH_SECRET: TEST_INTERNAL_SECRET, DATABASE_URL: database.databaseUrl ?? "", USER_SERVICE_ADDR: nowhere });
  const broker = createBroker(undefined, sql.log);
  const internalAuth = testInternalAuth("room");
  const deps = await createRoomDeps(config, sql.log, broker, internalAuth, database.dataDir);
  const countCalls: Interceptor = (next) => (request) => {
    otherServiceCalls.push(request.method.name);
    return next(request);
  };
  deps.users = createServiceClient(UserService, nowhere, { internalAuth, interceptors: [countCalls], defaultTimeoutMs: 1_000 });
  const server = build(deps, internalAuth);
  const port = await server.listen(0, "127.0.0.1");
  rooms = createServiceClient(RoomService, `127.0.0.1:${port}`, { internalAuth: testInternalAuth(), defaultTimeoutMs: 30_000 });
  // MoveReadMarker is the message service's (its MarkRead caps the seq first).
  asMessage = createServiceClient(RoomService, `127.0.0.1:${port}`, { internalAuth: testInternalAuth("message"), defaultTimeoutMs: 30_000 });
  stopRooms = async () => {
    await server.shutdown(1_000);
    await deps.close();
    await broker.close();
  };
});
afterAll(async () => {
  await stopRooms?.();
  await database.drop();
});

describe("a private room one is not in and a missing room", () => {
  it("cost the same work on every room call: the same SQL statements, no other service called, the same answer", async () => {
    const owner = uuidv7();
    const outsider = uuidv7();
    const { room } = await rooms.createRoom({ name: "secret", kind: RoomKind.PRIVATE }, asUser(owner));
    const as = asUser(outsider);
    const calls: [string, (roomId: string) => Promise<unknown>][] = [
      ["getRoom", (roomId) => rooms.getRoom({ roomId }, as)],
      ["listMembers", (roomId) => rooms.listMembers({ roomId }, as)],
      ["joinRoom", (roomId) => rooms.joinRoom({ roomId }, as)],
      ["leaveRoom", (roomId) => rooms.leaveRoom({ roomId }, as)],
      ["updateRoom", (roomId) => rooms.updateRoom({ roomId, room: { name: "mine" }, updateMask: { paths: ["name"] } }, as)],
      ["inviteMember", (roomId) => rooms.inviteMember({ roomId, userId: outsider }, as)],
      ["kickMember", (roomId) => rooms.kickMember({ roomId, userId: owner }, as)],
      ["setMemberRole", (roomId) => rooms.setMemberRole({ roomId, userId: owner, role: Role.ADMIN }, as)],
      ["transferOwnership", (roomId) => rooms.transferOwnership({ roomId, userId: owner }, as)],
      ["updateRoom description", (roomId) => rooms.updateRoom({ roomId, room: { description: "mine" }, updateMask: { paths: ["description"] } }, as)],
      ["updateRoom archived", (roomId) => rooms.updateRoom({ roomId, room: { archived: true }, updateMask: { paths: ["archived"] } }, as)],
      ["updateRoom members_can_pin", (roomId) => rooms.updateRoom({ roomId, room: { membersCanPin: true }, updateMask: { paths: ["members_can_pin"] } }, as)],
      ["moveReadMarker", (roomId) => asMessage.moveReadMarker({ roomId, seq: 1n }, as)],
      ["listRoomChanges", (roomId) => rooms.listRoomChanges({ roomId, after: 0n, limit: 0 }, as)],
    ];
    const workOf = async (call: (roomId: string) => Promise<unknown>, roomId: string) => {
      sql.statements.length = 0;
      otherServiceCalls.length = 0;
      const error = await call(roomId).then(() => undefined, (e) => ConnectError.from(e));
      return {
        answer: { code: error?.code, message: error?.rawMessage, field: error?.metadata.get("parley-field") },
        sql: [...sql.statements],
        otherServiceCalls: [...otherServiceCalls],
      };
    };
    for (const [name, call] of calls) {
      const hidden = await workOf(call, room!.id);
      const missing = await workOf(call, uuidv7());
      expect(hidden.answer, name).toEqual({ code: Code.NotFound, message: "room not found", field: null });
      expect(missing.answer, name).toEqual(hidden.answer);
      expect(hidden.sql.length, name).toBeGreaterThan(0);
      expect(missing.sql, name).toEqual(hidden.sql);
      expect(missing.otherServiceCalls, name).toEqual([]);
      expect(hidden.otherServiceCalls, name).toEqual([]);
    }
  });
});
