// Pins over REST and tRPC (issue 16): who may pin, the pinned list, and private rooms answering like random ids.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEdge, type TestEdge } from "./harness.js";

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge();
});
afterAll(() => edge?.stop());

const MISSING = "01900000-0000-7000-8000-000000000000";

describe("REST pins", () => {
  it("lets an admin pin (PUT /messages/:id/pin), lists pins newest first, refuses a plain member 403 until the room allows it", async () => {
    const owner = await edge.signUp("po");
    const bob = await edge.signUp("pb");
    const room = (await edge.api("POST", "/api/v1/rooms", { token: owner.accessToken, body: { name: "pins", visibility: "private" } })).json;
    expect(room.membersCanPin).toBe(false);
    await edge.api("POST", `/api/v1/rooms/${room.id}/members`, { token: owner.accessToken, body: { userId: bob.user.id } });
    const first = (await edge.api("POST", "/api/v1/messages", { token: bob.accessToken, body: { roomId: room.id, body: "first" } })).json;
    const second = (await edge.api("POST", "/api/v1/messages", { token: bob.accessToken, body: { roomId: room.id, body: "second" } })).json;

    const pinned = await edge.api("PUT", `/api/v1/messages/${first.id}/pin`, { token: owner.accessToken, body: {} });
    expect(pinned.status).toBe(200);
    expect(pinned.json).toMatchObject({ id: first.id, pinnedBy: owner.user.id, change: first.change + 2 });
    expect(new Date(pinned.json.pinnedAt).toISOString()).toBe(pinned.json.pinnedAt);

    const denied = await edge.api("PUT", `/api/v1/messages/${second.id}/pin`, { token: bob.accessToken, body: {} });
    expect(denied.status).toBe(403);
    const allowed = await edge.api("PUT", `/api/v1/rooms/${room.id}`, { token: owner.accessToken, body: { membersCanPin: true } });
    expect(allowed.json.membersCanPin).toBe(true);
    expect((await edge.api("PUT", `/api/v1/messages/${second.id}/pin`, { token: bob.accessToken, body: {} })).status).toBe(200);

    const list = await edge.api("GET", `/api/v1/rooms/${room.id}/pins?limit=1`, { token: bob.accessToken });
    expect(list.json.messages.map((m: { body: string }) => m.body)).toEqual(["second"]);
    const next = await edge.api("GET", `/api/v1/rooms/${room.id}/pins?limit=1&cursor=${list.json.nextCursor}`, { token: bob.accessToken });
    expect(next.json).toMatchObject({ messages: [{ body: "first" }], nextCursor: null });

    const unpinned = await edge.api("DELETE", `/api/v1/messages/${first.id}/pin`, { token: bob.accessToken });
    expect(unpinned.status).toBe(200);
    expect(unpinned.json).toMatchObject({ pinnedAt: null, pinnedBy: null });
    const api = edge.trpc(bob.accessToken);
    expect((await api.messages.pins.query({ id: room.id })).messages.map((m) => m.body)).toEqual(["second"]);
  });

  it("answers a non-member 404 exactly like a random id, and bad ids 400", async () => {
    const owner = await edge.signUp("pq");
    const mallory = await edge.signUp("pm");
    const room = (await edge.api("POST", "/api/v1/rooms", { token: owner.accessToken, body: { name: "secret", visibility: "private" } })).json;
    const message = (await edge.api("POST", "/api/v1/messages", { token: owner.accessToken, body: { roomId: room.id, body: "x" } })).json;
    await edge.api("PUT", `/api/v1/messages/${message.id}/pin`, { token: owner.accessToken, body: {} });
    for (const [method, path] of [
      ["GET", `/api/v1/rooms/{room}/pins`],
      ["PUT", `/api/v1/messages/{message}/pin`],
      ["DELETE", `/api/v1/messages/{message}/pin`],
    ] as const) {
      const body = method === "PUT" ? {} : undefined;
      const real = await edge.api(method, path.replace("{room}", room.id).replace("{message}", message.id), { token: mallory.accessToken, body });
      const fake = await edge.api(method, path.replace("{room}", MISSING).replace("{message}", MISSING), { token: mallory.accessToken, body });
      expect(real.status, path).toBe(404);
      expect(real.json, path).toEqual(fake.json);
    }
    expect((await edge.api("PUT", `/api/v1/messages/nope/pin`, { token: owner.accessToken, body: {} })).status).toBe(400);
    expect((await edge.api("GET", `/api/v1/rooms/${room.id}/pins?cursor=zz`, { token: owner.accessToken })).status).toBe(400);
  });
});
