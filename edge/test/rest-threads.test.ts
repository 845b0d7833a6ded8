// Threads over REST and tRPC (issue 16): replies, the root's summary, following, the Threads list
// with unread counts, read markers, and private rooms answering like random ids.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEdge, type TestEdge } from "./harness.js";

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge();
});
afterAll(() => edge?.stop());

const MISSING = "01900000-0000-7000-8000-000000000000";
type Body = { body: string };

describe("REST threads", () => {
  it("replies in a thread (POST /messages with threadRootId), keeps replies out of the room's page unless also sent, and pages a thread", async () => {
    const ada = await edge.signUp("ta");
    const bob = await edge.signUp("tb");
    const room = (await edge.api("POST", "/api/v1/rooms", { token: ada.accessToken, body: { name: "threads", visibility: "private" } })).json;
    await edge.api("POST", `/api/v1/rooms/${room.id}/members`, { token: ada.accessToken, body: { userId: bob.user.id } });
    const root = (await edge.api("POST", "/api/v1/messages", { token: ada.accessToken, body: { roomId: room.id, body: "root" } })).json;
    expect(root).toMatchObject({ threadRootId: null, alsoSentToRoom: false, thread: null });
    const r1 = await edge.api("POST", "/api/v1/messages", { token: bob.accessToken, body: { roomId: room.id, body: "r1", threadRootId: root.id } });
    expect(r1.status).toBe(201);
    expect(r1.json).toMatchObject({ seq: 2, threadRootId: root.id, alsoSentToRoom: false });
    const r2 = (
      await edge.api("POST", "/api/v1/messages", {
        token: ada.accessToken,
        body: { roomId: room.id, body: "r2", threadRootId: r1.json.id, alsoSendToRoom: true },
      })
    ).json;
    expect(r2).toMatchObject({ threadRootId: root.id, alsoSentToRoom: true });

    const timeline = (await edge.api("GET", `/api/v1/messages/${room.id}`, { token: bob.accessToken })).json;
    expect(timeline.messages.map((m: Body) => m.body)).toEqual(["root", "r2"]);
    expect(timeline.messages[0].thread).toMatchObject({ replyCount: 2, participantIds: [ada.user.id, bob.user.id], lastReplySeq: 3 });
    expect(timeline.messages[0].thread.lastReplyAt).toBe(r2.createdAt);

    const thread = await edge.api("GET", `/api/v1/messages/${root.id}/thread?limit=1`, { token: bob.accessToken });
    expect(thread.status).toBe(200);
    expect(thread.json).toMatchObject({ thread: { root: { id: root.id }, following: true, unreadCount: 1 }, hasOlder: true, hasNewer: false });
    expect(thread.json.messages.map((m: Body) => m.body)).toEqual(["r2"]);
    const older = (await edge.api("GET", `/api/v1/messages/${root.id}/thread?before=3`, { token: bob.accessToken })).json;
    expect(older.messages.map((m: Body) => m.body)).toEqual(["r1"]);

    const bad = await edge.api("POST", "/api/v1/messages", { token: ada.accessToken, body: { roomId: room.id, body: "x", alsoSendToRoom: true } });
    expect([bad.status, bad.json.error.field]).toEqual([400, "alsoSendToRoom"]);
  });

  it("follows and unfollows (PUT/DELETE /threads/:rootId/follow), lists followed threads with unread counts, and marks read", async () => {
    const ada = await edge.signUp("tf");
    const bob = await edge.signUp("tg");
    const room = (await edge.api("POST", "/api/v1/rooms", { token: ada.accessToken, body: { name: "follow", visibility: "public" } })).json;
    await edge.api("POST", `/api/v1/rooms/${room.id}/join`, { token: bob.accessToken, body: {} });
    const root = (await edge.api("POST", "/api/v1/messages", { token: ada.accessToken, body: { roomId: room.id, body: "question" } })).json;
    await edge.api("POST", "/api/v1/messages", { token: bob.accessToken, body: { roomId: room.id, body: "answer", threadRootId: root.id } });

    const list = (await edge.api("GET", "/api/v1/threads", { token: ada.accessToken })).json;
    expect(list).toMatchObject({ threads: [{ root: { id: root.id, body: "question" }, following: true, unreadCount: 1 }], nextCursor: null, unreadThreadCount: 1 });
    expect((await edge.api("GET", "/api/v1/threads?unreadOnly=true", { token: ada.accessToken })).json.threads).toHaveLength(1);
    // Replies kept in their thread do not count as the room's unread messages.
    const { rooms } = (await edge.api("GET", "/api/v1/rooms", { token: ada.accessToken })).json;
    expect(rooms.find((r: { id: string }) => r.id === room.id).unreadCount).toBe(0);

    const read = await edge.api("POST", `/api/v1/threads/${root.id}/read`, { token: ada.accessToken, body: {} });
    expect(read.json).toMatchObject({ following: true, unreadCount: 0, lastReadSeq: 2 });
    expect((await edge.api("GET", "/api/v1/threads?unreadOnly=true", { token: ada.accessToken })).json).toMatchObject({ threads: [], unreadThreadCount: 0 });

    const unfollowed = await edge.api("DELETE", `/api/v1/threads/${root.id}/follow`, { token: ada.accessToken });
    expect([unfollowed.status, unfollowed.json.following]).toEqual([200, false]);
    expect((await edge.api("GET", "/api/v1/threads", { token: ada.accessToken })).json.threads).toEqual([]);
    const followed = await edge.api("PUT", `/api/v1/threads/${root.id}/follow`, { token: ada.accessToken, body: {} });
    expect(followed.json).toMatchObject({ following: true, unreadCount: 0 });
    const api = edge.trpc(ada.accessToken);
    expect((await api.threads.list.query({})).threads.map((t) => t.root.id)).toEqual([root.id]);
  });

  it("answers a non-member 404 exactly like a random id for every thread endpoint, and bad ids 400", async () => {
    const owner = await edge.signUp("tq");
    const mallory = await edge.signUp("tm");
    const room = (await edge.api("POST", "/api/v1/rooms", { token: owner.accessToken, body: { name: "secret", visibility: "private" } })).json;
    const root = (await edge.api("POST", "/api/v1/messages", { token: owner.accessToken, body: { roomId: room.id, body: "x" } })).json;
    await edge.api("POST", "/api/v1/messages", { token: owner.accessToken, body: { roomId: room.id, body: "y", threadRootId: root.id } });
    const calls: [string, (id: string) => string, object | undefined][] = [
      ["GET", (id) => `/api/v1/messages/${id}/thread`, undefined],
      ["PUT", (id) => `/api/v1/threads/${id}/follow`, {}],
      ["DELETE", (id) => `/api/v1/threads/${id}/follow`, undefined],
      ["POST", (id) => `/api/v1/threads/${id}/read`, {}],
    ];
    for (const [method, path, body] of calls) {
      const hidden = await edge.api(method, path(root.id), { token: mallory.accessToken, body });
      const random = await edge.api(method, path(MISSING), { token: mallory.accessToken, body });
      expect([method, hidden.status, hidden.json]).toEqual([method, 404, random.json]);
      expect((await edge.api(method, path("nope"), { token: mallory.accessToken, body })).status).toBe(400);
    }
    const reply = await edge.api("POST", "/api/v1/messages", { token: mallory.accessToken, body: { roomId: room.id, body: "z", threadRootId: root.id } });
    expect(reply.status).toBe(404);
    expect((await edge.api("GET", "/api/v1/threads", { token: mallory.accessToken })).json).toMatchObject({ threads: [], unreadThreadCount: 0 });
  });
});
