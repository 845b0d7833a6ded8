import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEdge, type TestEdge } from "./harness.js";

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge({ RATE_SEND_PER_10S_USER: "40" });
});
afterAll(() => edge?.stop());

const MISSING = "01900000-0000-7000-8000-000000000000";

async function createRoom(token: string, visibility: "public" | "private", name = `room ${Date.now()}`) {
  const res = await edge.api("POST", "/api/v1/rooms", { token, body: { name, visibility, topic: "testing" } });
  expect(res.status).toBe(201);
  return res.json;
}

describe("REST rooms", () => {
  it("creates a room (201), lists it with unread counts, and lets others join a public one", async () => {
    const alice = await edge.signUp("ra");
    const bob = await edge.signUp("rb");
    const room = await createRoom(alice.accessToken, "public", "general");
    expect(room).toMatchObject({ name: "general", topic: "testing", visibility: "public", createdBy: alice.user.id, memberCount: 1 });
    expect(typeof room.id).toBe("string");
    expect(new Date(room.createdAt).toISOString()).toBe(room.createdAt);

    const joined = await edge.api("POST", `/api/v1/rooms/${room.id}/join`, { token: bob.accessToken });
    expect(joined.status).toBe(200);
    expect(joined.json.membership.role).toBe("member");
    await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId: room.id, body: "hello" } });
    await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId: room.id, body: "anyone?" } });

    const list = await edge.api("GET", "/api/v1/rooms", { token: bob.accessToken });
    expect(list.status).toBe(200);
    const summary = list.json.rooms.find((r: { id: string }) => r.id === room.id);
    expect(summary).toMatchObject({ unreadCount: 2, lastSeq: 2, lastReadSeq: 0, role: "member" });
    const read = await edge.api("POST", `/api/v1/rooms/${room.id}/read`, { token: bob.accessToken, body: { seq: 2 } });
    expect(read.json).toEqual({ lastReadSeq: 2 });
    const after = await edge.api("GET", "/api/v1/rooms", { token: bob.accessToken });
    expect(after.json.rooms.find((r: { id: string }) => r.id === room.id).unreadCount).toBe(0);

    const members = await edge.api("GET", `/api/v1/rooms/${room.id}/members`, { token: bob.accessToken });
    expect(members.json.members.map((m: { userId: string }) => m.userId).sort()).toEqual([alice.user.id, bob.user.id].sort());
    // Bob sees his own email at most, never Alice's.
    expect(JSON.stringify(members.json)).not.toContain(`${alice.username}@example.com`);
  });

  it("hides private rooms from non-members: 404 exactly like a room that does not exist", async () => {
    const alice = await edge.signUp("pa");
    const mallory = await edge.signUp("pm");
    const room = await createRoom(alice.accessToken, "private");
    for (const [method, path, body] of [
      ["GET", `/api/v1/rooms/{id}`, undefined],
      ["POST", `/api/v1/rooms/{id}/join`, undefined],
      ["GET", `/api/v1/rooms/{id}/members`, undefined],
      ["GET", `/api/v1/messages/{id}`, undefined],
    ] as const) {
      const real = await edge.api(method, path.replace("{id}", room.id), { token: mallory.accessToken, body });
      const fake = await edge.api(method, path.replace("{id}", MISSING), { token: mallory.accessToken, body });
      expect(real.status, path).toBe(404);
      expect(real.json).toEqual(fake.json);
    }
    const send = await edge.api("POST", "/api/v1/messages", { token: mallory.accessToken, body: { roomId: room.id, body: "let me in" } });
    expect(send.status).toBe(404);
  });

  it("reuses the direct room between two people", async () => {
    const alice = await edge.signUp("da");
    const bob = await edge.signUp("db");
    const first = await edge.api("POST", "/api/v1/rooms/direct", { token: alice.accessToken, body: { userId: bob.user.id } });
    const again = await edge.api("POST", "/api/v1/rooms/direct", { token: bob.accessToken, body: { userId: alice.user.id } });
    expect(first.json.id).toBe(again.json.id);
    expect(first.json.visibility).toBe("direct");
    expect(again.json.created).toBe(false);
  });

  it("opens one group conversation per set of people, shows it to each, and answers 400 for a bad request", async () => {
    const [ada, bob, cid, eve] = [await edge.signUp("ga"), await edge.signUp("gb"), await edge.signUp("gc"), await edge.signUp("ge")];
    const first = await edge.api("POST", "/api/v1/rooms/direct", { token: ada.accessToken, body: { userIds: [bob.user.id, cid.user.id] } });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ visibility: "direct", created: true, memberCount: 3 });
    expect(first.json.directMemberIds).toEqual([ada.user.id, bob.user.id, cid.user.id].sort());
    const again = await edge.api("POST", "/api/v1/rooms/direct", { token: cid.accessToken, body: { userIds: [bob.user.id, ada.user.id] } });
    expect(again.json).toMatchObject({ id: first.json.id, created: false });
    const listed = await edge.api("GET", "/api/v1/rooms", { token: bob.accessToken });
    expect(listed.json.rooms.map((r: { id: string }) => r.id)).toContain(first.json.id);
    // Someone outside it gets what a random id gets.
    const outside = await edge.api("GET", `/api/v1/rooms/${first.json.id}`, { token: eve.accessToken });
    const random = await edge.api("GET", `/api/v1/rooms/${randomUUID()}`, { token: eve.accessToken });
    expect([outside.status, outside.json]).toEqual([random.status, random.json]);
    for (const body of [{}, { userId: bob.user.id, userIds: [cid.user.id] }, { userIds: [] }, { userIds: ["bob"] }, { userIds: Array.from({ length: 8 }, () => randomUUID()) }]) {
      const refused = await edge.api("POST", "/api/v1/rooms/direct", { token: ada.accessToken, body });
      expect(refused.status, JSON.stringify(body)).toBe(400);
    }
  });

  it("lets only admins kick, and a kicked member loses access at once (403/404)", async () => {
    const owner = await edge.signUp("ko");
    const bob = await edge.signUp("kb");
    const carol = await edge.signUp("kc");
    const room = await createRoom(owner.accessToken, "private");
    for (const user of [bob, carol]) {
      expect((await edge.api("POST", `/api/v1/rooms/${room.id}/members`, { token: owner.accessToken, body: { userId: user.user.id } })).status).toBe(201);
    }
    const byMember = await edge.api("DELETE", `/api/v1/rooms/${room.id}/members/${carol.user.id}`, { token: bob.accessToken });
    expect(byMember.status).toBe(403);
    expect((await edge.api("DELETE", `/api/v1/rooms/${room.id}/members/${carol.user.id}`, { token: owner.accessToken })).status).toBe(204);
    expect((await edge.api("GET", `/api/v1/messages/${room.id}`, { token: carol.accessToken })).status).toBe(404);
  });

  it("validates room input", async () => {
    const alice = await edge.signUp("rv");
    const cases: [unknown, number][] = [
      [{ name: "", visibility: "public" }, 400],
      [{ name: "x".repeat(81), visibility: "public" }, 400],
      [{ name: "ok", visibility: "secret" }, 400],
      [{ name: "ok", visibility: "public", owner: "me" }, 400],
      [{ visibility: "public" }, 400],
    ];
    for (const [body, status] of cases) {
      const res = await edge.api("POST", "/api/v1/rooms", { token: alice.accessToken, body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.json.error.code).toBe("BAD_REQUEST");
    }
    expect((await edge.api("POST", "/api/v1/rooms/not-a-uuid/join", { token: alice.accessToken })).status).toBe(400);
    expect((await edge.api("GET", "/api/v1/rooms")).status).toBe(401);
  });
});

describe("REST messages", () => {
  it("sends (201), returns the original for a repeated clientMsgId, lists by seq with cursors, edits and deletes (204)", async () => {
    const alice = await edge.signUp("ma");
    const bob = await edge.signUp("mb");
    const room = await createRoom(alice.accessToken, "public");
    await edge.api("POST", `/api/v1/rooms/${room.id}/join`, { token: bob.accessToken });
    const sent = [];
    for (let i = 1; i <= 5; i++) {
      const res = await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId: room.id, body: `m${i}`, clientMsgId: `c${i}` } });
      expect(res.status).toBe(201);
      sent.push(res.json);
    }
    expect(Object.keys(sent[0]).sort()).toEqual(["alsoSentToRoom", "attachments", "body", "change", "clientMsgId", "createdAt", "deleted", "editedAt", "id", "linkPreviews", "mentionBroadcast", "mentionUserIds", "pinnedAt", "pinnedBy", "reactions", "replyToId", "roomId", "senderId", "seq", "thread", "threadRootId"]);
    expect(sent.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    const repeat = await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId: room.id, body: "m1", clientMsgId: "c1" } });
    expect(repeat.json.id).toBe(sent[0].id);

    const all = await edge.api("GET", `/api/v1/messages/${room.id}`, { token: bob.accessToken });
    expect(all.json.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    const before = await edge.api("GET", `/api/v1/messages/${room.id}?before=4&limit=2`, { token: bob.accessToken });
    expect(before.json.messages.map((m: { seq: number }) => m.seq)).toEqual([2, 3]);
    const after = await edge.api("GET", `/api/v1/messages/${room.id}?after=3`, { token: bob.accessToken });
    expect(after.json.messages.map((m: { seq: number }) => m.seq)).toEqual([4, 5]);
    expect((await edge.api("GET", `/api/v1/messages/${room.id}?before=4&after=1`, { token: bob.accessToken })).status).toBe(400);
    expect((await edge.api("GET", `/api/v1/messages/${room.id}?limit=500`, { token: bob.accessToken })).status).toBe(400);

    const edited = await edge.api("PUT", `/api/v1/messages/${sent[1].id}`, { token: alice.accessToken, body: { body: "m2 (edited)" } });
    expect(edited.status).toBe(200);
    expect(edited.json.body).toBe("m2 (edited)");
    expect(edited.json.editedAt).not.toBeNull();
    const notYours = await edge.api("PUT", `/api/v1/messages/${sent[1].id}`, { token: bob.accessToken, body: { body: "hijacked" } });
    expect(notYours.status).toBe(403);
    expect((await edge.api("DELETE", `/api/v1/messages/${sent[2].id}`, { token: bob.accessToken })).status).toBe(403);
    expect((await edge.api("DELETE", `/api/v1/messages/${sent[2].id}`, { token: alice.accessToken })).status).toBe(204);
    const history = await edge.api("GET", `/api/v1/messages/${room.id}`, { token: bob.accessToken });
    const tombstone = history.json.messages.find((m: { seq: number }) => m.seq === 3);
    expect(tombstone).toMatchObject({ deleted: true, body: "" });
  });

  it("rejects bad bodies with 400 naming the rule, and rate limits sends with 429", async () => {
    const alice = await edge.signUp("mr");
    const room = await createRoom(alice.accessToken, "private");
    for (const body of ["   ", "x".repeat(4001)]) {
      const res = await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId: room.id, body } });
      expect(res.status).toBe(400);
      expect(res.json.error.message).toMatch(/^body: /);
    }
    const mistyped = await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId: room.id, body: 42 } });
    expect(mistyped.status).toBe(400);
    const statuses: number[] = [];
    for (let i = 0; i < 45; i++) {
      statuses.push((await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId: room.id, body: `spam ${i}` } })).status);
    }
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(40);
    expect(statuses.at(-1)).toBe(429);
  });

  it("serves the same operations over tRPC with typed results", async () => {
    const alice = await edge.signUp("tr");
    const api = edge.trpc(alice.accessToken);
    const room = await api.rooms.create.mutate({ name: "typed", visibility: "private" });
    const message = await api.messages.send.mutate({ roomId: room.id, body: "typed hello", clientMsgId: "t-1" });
    expect(message.seq).toBe(1);
    const page = await api.messages.list.query({ roomId: room.id });
    expect(page.messages.map((m) => m.body)).toEqual(["typed hello"]);
    const rooms = await api.rooms.list.query();
    expect(rooms.rooms.find((r) => r.id === room.id)?.lastSeq).toBe(1);
  });
});
