// Mentions over REST (issue 16): who a message mentions, mentionCount beside unreadCount in GET /rooms,
// GET /mentions across the rooms you are in now, and who may use @room (403 with a clear message).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEdge, type TestEdge } from "./harness.js";

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge();
});
afterAll(() => edge?.stop());

describe("REST mentions", () => {
  it("counts unread mentions in GET /rooms, lists them in GET /mentions, forgets a room you were kicked from, and refuses @room when restricted", async () => {
    const owner = await edge.signUp("mo");
    const bob = await edge.signUp("mb");
    const as = (who: { accessToken: string }) => ({ token: who.accessToken });
    const room = (await edge.api("POST", "/api/v1/rooms", { ...as(owner), body: { name: "mentions", visibility: "private" } })).json;
    expect(room.membersCanMentionEveryone).toBe(true);
    await edge.api("POST", `/api/v1/rooms/${room.id}/members`, { ...as(owner), body: { userId: bob.user.id } });
    const send = async (who: { accessToken: string }, body: string) =>
      edge.api("POST", "/api/v1/messages", { ...as(who), body: { roomId: room.id, body } });

    const named = (await send(owner, `hey @${bob.username.toUpperCase()}, see \`@${owner.username}\``)).json;
    expect(named).toMatchObject({ mentionUserIds: [bob.user.id], mentionBroadcast: null });
    const everyone = (await send(owner, "@here standup")).json;
    expect(everyone.mentionBroadcast).toBe("here");
    await send(owner, "no mention");
    const summary = async (who: { accessToken: string }) =>
      (await edge.api("GET", "/api/v1/rooms", as(who))).json.rooms.find((r: { id: string }) => r.id === room.id);
    expect(await summary(bob)).toMatchObject({ unreadCount: 3, mentionCount: 2 });
    expect(await summary(owner)).toMatchObject({ unreadCount: 0, mentionCount: 0 });

    const mentions = await edge.api("GET", "/api/v1/mentions?limit=1", as(bob));
    expect(mentions.status).toBe(200);
    expect(mentions.json.messages.map((m: { id: string }) => m.id)).toEqual([everyone.id]);
    const next = await edge.api("GET", `/api/v1/mentions?limit=1&cursor=${mentions.json.nextCursor}`, as(bob));
    expect(next.json).toMatchObject({ messages: [{ id: named.id }], nextCursor: null });

    await edge.api("POST", `/api/v1/rooms/${room.id}/read`, { ...as(bob), body: { seq: everyone.seq } });
    expect(await summary(bob)).toMatchObject({ unreadCount: 1, mentionCount: 0 });

    const restricted = await edge.api("PUT", `/api/v1/rooms/${room.id}`, { ...as(owner), body: { membersCanMentionEveryone: false } });
    expect(restricted.json.membersCanMentionEveryone).toBe(false);
    const refused = await send(bob, "@room please");
    expect(refused.status).toBe(403);
    expect(refused.json.error.message).toBe("only the room's admins can use @room and @here in this room");
    expect((await send(owner, "@room from the owner")).status).toBe(201);
    expect((await edge.api("PUT", `/api/v1/rooms/${room.id}`, { ...as(bob), body: { membersCanMentionEveryone: true } })).status).toBe(403);

    // Kicked from the private room: its mentions are gone from the list, like the room itself.
    await edge.api("DELETE", `/api/v1/rooms/${room.id}/members/${bob.user.id}`, as(owner));
    const afterKick = await edge.api("GET", "/api/v1/mentions", as(bob));
    expect([afterKick.status, afterKick.json]).toEqual([200, { messages: [], nextCursor: null }]);
    expect((await edge.api("GET", "/api/v1/mentions?cursor=garbage", as(bob))).status).toBe(400);
    expect((await edge.api("GET", "/api/v1/mentions")).status).toBe(401);
  });
});
