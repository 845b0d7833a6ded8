// Running a room over the edge (issue 16): the description and ownership transfer over REST, with
// the right status for each refusal, and the room lane on a live socket: a member who was away
// gets a rename, a new description, a role change and an ownership transfer made meanwhile, once
// each, in order, on resume; a removed member's socket is told at once.
import { describe, expect, it } from "vitest";
import { ok, roomWithMembers, type Account, useEdgeWithSocket } from "./harness.js";
import { RawSocket, type Frame } from "./sockets.js";

const busy = { RATE_REGISTER_PER_HOUR: "1000", RATE_WRITE_PER_10S_USER: "100000", RATE_READ_PER_10S_USER: "100000" };
const stack = useEdgeWithSocket({ edge: busy, socket: { ...busy, LOG_LEVEL: process.env.SOCKET_LOG_LEVEL ?? "silent" } });

const ROOM_LANE = ["memberJoined", "memberLeft", "memberKicked", "memberRoleChanged", "roomUpdated"];
const laneKind = (frame: Frame) => ROOM_LANE.find((kind) => frame[kind]);

const roomWith = (owner: Account, members: Account[], visibility: "private" | "public" = "private") => roomWithMembers(stack.edge, owner, members, visibility);

const transfer = (by: Account, roomId: string, userId: string) =>
  stack.edge.api("POST", `/api/v1/rooms/${roomId}/transfer-ownership`, { token: by.accessToken, body: { userId } });

describe("room settings over REST", () => {
  it("sets and clears a description, and keeps it to 1,000 characters", async () => {
    const owner = await stack.edge.signUp("da");
    const roomId = await roomWith(owner, []);
    const set = await ok(stack.edge.api("PUT", `/api/v1/rooms/${roomId}`, { token: owner.accessToken, body: { description: "Line one\n\n**Line two**" } }));
    expect(set.description).toBe("Line one\n\n**Line two**");
    expect((await ok(stack.edge.api("GET", `/api/v1/rooms/${roomId}`, { token: owner.accessToken }))).description).toBe("Line one\n\n**Line two**");
    const long = await stack.edge.api("PUT", `/api/v1/rooms/${roomId}`, { token: owner.accessToken, body: { description: "x".repeat(1001) } });
    expect(long.status).toBe(400);
    expect(long.json.error).toMatchObject({ field: "description" });
    expect((await ok(stack.edge.api("PUT", `/api/v1/rooms/${roomId}`, { token: owner.accessToken, body: { description: "" } }))).description).toBe("");
  });

  it("transfers ownership: the member becomes the owner, the owner an admin; refusals get 400, 403, 404 and 412", async () => {
    const [owner, admin, member, outsider] = [await stack.edge.signUp("ta"), await stack.edge.signUp("tb"), await stack.edge.signUp("tc"), await stack.edge.signUp("td")];
    const roomId = await roomWith(owner, [admin, member]);
    await ok(stack.edge.api("PUT", `/api/v1/rooms/${roomId}/members/${admin.user.id}`, { token: owner.accessToken, body: { role: "admin" } }));

    expect((await transfer(admin, roomId, member.user.id)).status).toBe(403);
    expect((await transfer(owner, roomId, owner.user.id)).status).toBe(400);
    expect((await transfer(owner, roomId, outsider.user.id)).status).toBe(404);
    expect((await transfer(owner, roomId, "not-a-uuid")).status).toBe(400);
    // A private room one is not in answers as a random id does.
    const hidden = await transfer(outsider, roomId, outsider.user.id);
    const missing = await transfer(outsider, "01900000-0000-7000-8000-000000000000", outsider.user.id);
    expect([hidden.status, hidden.json]).toEqual([404, missing.json]);

    const moved = await ok(transfer(owner, roomId, member.user.id));
    expect(moved).toMatchObject({ owner: { userId: member.user.id, role: "owner" }, previousOwner: { userId: owner.user.id, role: "admin" } });
    const { members } = await ok(stack.edge.api("GET", `/api/v1/rooms/${roomId}/members`, { token: owner.accessToken }));
    expect(Object.fromEntries(members.map((m: { userId: string; role: string }) => [m.userId, m.role]))).toEqual({
      [owner.user.id]: "admin",
      [admin.user.id]: "admin",
      [member.user.id]: "owner",
    });
    // The new owner cannot be removed; the previous one, now an admin, may leave.
    expect((await stack.edge.api("DELETE", `/api/v1/rooms/${roomId}/members/${member.user.id}`, { token: admin.accessToken })).status).toBe(403);
    expect((await stack.edge.api("POST", `/api/v1/rooms/${roomId}/leave`, { token: owner.accessToken })).status).toBe(204);
    // Direct conversations have no owner to hand over.
    const direct = await ok(stack.edge.api("POST", "/api/v1/rooms/direct", { token: admin.accessToken, body: { userId: member.user.id } }));
    expect((await transfer(admin, direct.id, member.user.id)).status).toBe(412);
  });

  it("is in the OpenAPI document", async () => {
    const doc = await ok(stack.edge.api("GET", "/api/v1/openapi.json"));
    const operation = doc.paths["/api/v1/rooms/{id}/transfer-ownership"]?.post;
    expect(operation).toMatchObject({ operationId: "rooms.transferOwnership", security: [{ bearer: [] }] });
    expect(operation.requestBody.content["application/json"].schema.required).toEqual(["userId"]);
    expect(doc.paths["/api/v1/rooms/{id}"].put.requestBody.content["application/json"].schema.properties.description).toMatchObject({ maxLength: 1000 });
  });
});

describe("room changes on the room's stream", () => {
  it("gives a member who was away a rename, a description, a role change and an ownership transfer, once each, in order, on resume", async () => {
    const [owner, bob, cid] = [await stack.edge.signUp("sa"), await stack.edge.signUp("sb"), await stack.edge.signUp("sc")];
    const roomId = await roomWith(owner, [bob, cid]);
    const before = await ok(stack.edge.api("GET", `/api/v1/rooms/${roomId}`, { token: bob.accessToken }));

    // Bob is away: the room is renamed and described, Cid made an admin, and Bob made the owner.
    await ok(stack.edge.api("PUT", `/api/v1/rooms/${roomId}`, { token: owner.accessToken, body: { name: "renamed while away" } }));
    await ok(stack.edge.api("PUT", `/api/v1/rooms/${roomId}`, { token: owner.accessToken, body: { description: "What we do here" } }));
    await ok(stack.edge.api("PUT", `/api/v1/rooms/${roomId}/members/${cid.user.id}`, { token: owner.accessToken, body: { role: "admin" } }));
    await ok(transfer(owner, roomId, bob.user.id));

    const ws = await RawSocket.open(stack.socket.url, bob.accessToken);
    ws.send({ ref: "resume", subscribe: { roomId, position: { messages: "0", room: String(before.lastChange) } } });
    const live = await ws.next((f) => f.live?.roomId === roomId, 30_000);
    await ws.next((f) => f.ack?.ref === "resume");
    const frames = ws.frames.slice(0, ws.frames.indexOf(live)).filter(laneKind);
    expect(frames.map(laneKind)).toEqual(["roomUpdated", "roomUpdated", "memberRoleChanged", "memberRoleChanged", "memberRoleChanged"]);
    expect(frames.map((f) => Number(f.position.room))).toEqual([1, 2, 3, 4, 5].map((i) => before.lastChange + i));
    expect(frames[0]!.roomUpdated.room.name).toBe("renamed while away");
    expect(frames[1]!.roomUpdated.room).toMatchObject({ name: "renamed while away", description: "What we do here" });
    expect(frames.slice(2).map((f) => [f.memberRoleChanged.userId, f.memberRoleChanged.membership.role])).toEqual([
      [cid.user.id, "ROLE_ADMIN"],
      [bob.user.id, "ROLE_OWNER"],
      [owner.user.id, "ROLE_ADMIN"],
    ]);
    const after = await ok(stack.edge.api("GET", `/api/v1/rooms/${roomId}`, { token: bob.accessToken }));
    expect(live.position.room).toBe(String(after.lastChange));
    expect(after).toMatchObject({ name: "renamed while away", description: "What we do here", membership: { role: "owner" } });

    // Live now: the next change comes once, at the next position.
    const from = ws.frames.length;
    await ok(stack.edge.api("PUT", `/api/v1/rooms/${roomId}`, { token: bob.accessToken, body: { topic: "live topic" } }));
    const update = await ws.next((f) => f.roomUpdated?.room.topic === "live topic", 10_000, from);
    expect(update.position.room).toBe(String(after.lastChange + 1));
    ws.close();
  }, 120_000);

  it("tells a removed member's socket at once, and the room is gone for them after", async () => {
    const [owner, admin, member] = [await stack.edge.signUp("ka"), await stack.edge.signUp("kb"), await stack.edge.signUp("kc")];
    const roomId = await roomWith(owner, [admin, member]);
    await ok(stack.edge.api("PUT", `/api/v1/rooms/${roomId}/members/${admin.user.id}`, { token: owner.accessToken, body: { role: "admin" } }));
    const ws = await RawSocket.open(stack.socket.url, member.accessToken);
    ws.send({ ref: "sub", subscribe: { roomId } });
    await ws.next((f) => f.ack?.ref === "sub");
    expect((await stack.edge.api("DELETE", `/api/v1/rooms/${roomId}/members/${member.user.id}`, { token: admin.accessToken })).status).toBe(204);
    const kicked = await ws.next((f) => f.memberKicked?.userId === member.user.id);
    expect(kicked.memberKicked).toMatchObject({ roomId, byUserId: admin.user.id });
    expect((await stack.edge.api("GET", `/api/v1/rooms/${roomId}`, { token: member.accessToken })).status).toBe(404);
    const again = await ws.request({ ref: "again", subscribe: { roomId } });
    expect(again.error).toMatchObject({ ref: "again", code: "NOT_FOUND" });
    ws.close();
  }, 60_000);
});
