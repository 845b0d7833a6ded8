// Reactions over REST (PUT/DELETE /api/v1/messages/:id/reactions/:emoji, the emoji URL-encoded) and tRPC.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEdge, type TestEdge } from "./harness.js";

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge();
});
afterAll(() => edge?.stop());

const MISSING = "01900000-0000-7000-8000-000000000000";
const at = (id: string, emoji: string) => `/api/v1/messages/${id}/reactions/${encodeURIComponent(emoji)}`;

describe("REST reactions", () => {
  it("adds, repeats (no change), lists and removes reactions; a shortcode is stored as its emoji", async () => {
    const alice = await edge.signUp("rxa");
    const bob = await edge.signUp("rxb");
    const room = (await edge.api("POST", "/api/v1/rooms", { token: alice.accessToken, body: { name: "rx", visibility: "public" } })).json;
    await edge.api("POST", `/api/v1/rooms/${room.id}/join`, { token: bob.accessToken });
    const message = (await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId: room.id, body: "hi" } })).json;

    const first = await edge.api("PUT", at(message.id, "🎉"), { token: alice.accessToken, body: {} });
    expect(first.status).toBe(200);
    expect(first.json.reactions).toEqual([{ emoji: "🎉", count: 1, userIds: [alice.user.id] }]);
    expect(first.json.change).toBe(2);
    const again = await edge.api("PUT", at(message.id, ":tada:"), { token: alice.accessToken, body: {} });
    expect(again.json).toMatchObject({ change: 2, reactions: [{ emoji: "🎉", count: 1 }] });
    const bobs = await edge.api("PUT", at(message.id, "👍🏽"), { token: bob.accessToken, body: {} });
    expect(bobs.json.reactions.map((r: { emoji: string }) => r.emoji)).toEqual(["🎉", "👍🏽"]);

    const page = await edge.api("GET", `/api/v1/messages/${room.id}`, { token: bob.accessToken });
    expect(page.json.messages[0].reactions).toEqual([
      { emoji: "🎉", count: 1, userIds: [alice.user.id] },
      { emoji: "👍🏽", count: 1, userIds: [bob.user.id] },
    ]);
    const removed = await edge.api("DELETE", at(message.id, "🎉"), { token: alice.accessToken });
    expect(removed.status).toBe(200);
    expect(removed.json).toMatchObject({ change: 4, reactions: [{ emoji: "👍🏽", count: 1 }] });
  });

  it("answers 400 for a bad emoji, 404 for a private room's message alike a missing one, 412 (FAILED_PRECONDITION) for a deleted message", async () => {
    const alice = await edge.signUp("rxc");
    const mallory = await edge.signUp("rxm");
    const room = (await edge.api("POST", "/api/v1/rooms", { token: alice.accessToken, body: { name: "secret", visibility: "private" } })).json;
    const message = (await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId: room.id, body: "hush" } })).json;
    for (const bad of ["hello", ":not_a_shortcode:", "<b>x</b>", "x".repeat(65)]) {
      const res = await edge.api("PUT", at(message.id, bad), { token: alice.accessToken, body: {} });
      expect(res.status, bad).toBe(400);
      expect(res.json.error.code).toBe("BAD_REQUEST");
    }
    const hidden = await edge.api("PUT", at(message.id, "👍"), { token: mallory.accessToken, body: {} });
    const missing = await edge.api("PUT", at(MISSING, "👍"), { token: mallory.accessToken, body: {} });
    expect(hidden.status).toBe(404);
    expect(hidden.json).toEqual(missing.json);
    expect((await edge.api("DELETE", at(message.id, "👍"), { token: mallory.accessToken })).status).toBe(404);
    await edge.api("DELETE", `/api/v1/messages/${message.id}`, { token: alice.accessToken });
    expect((await edge.api("PUT", at(message.id, "👍"), { token: alice.accessToken, body: {} })).status).toBe(412);
  });

  it("is in the OpenAPI document and over tRPC", async () => {
    const doc = await edge.api("GET", "/api/v1/openapi.json");
    expect(doc.json.paths["/api/v1/messages/{id}/reactions/{emoji}"]).toMatchObject({ put: expect.anything(), delete: expect.anything() });
    const alice = await edge.signUp("rxt");
    const api = edge.trpc(alice.accessToken);
    const room = await api.rooms.create.mutate({ name: "typed rx", visibility: "private" });
    const message = await api.messages.send.mutate({ roomId: room.id, body: "typed" });
    const reacted = await api.messages.react.mutate({ id: message.id, emoji: ":smile:" });
    expect(reacted.reactions).toEqual([{ emoji: "😄", count: 1, userIds: [alice.user.id] }]);
    expect((await api.messages.unreact.mutate({ id: message.id, emoji: "😄" })).reactions).toEqual([]);
  });
});
