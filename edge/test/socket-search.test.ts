// Search over the live socket tier (issue 17): a `search` frame is answered by an Ack with the
// message service's SearchMessagesResponse, over the raw socket (JSON) and through
// @parley/client's LiveClient.search; a private room the caller is not in gives nothing; bad input
// is an Error frame naming the field, as GET /api/v1/search names it.
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { LiveClient, LiveError } from "@parley/client";
import { ok, roomWithMembers, type Account, useEdgeWithSocket } from "./harness.js";
import { RawSocket, waitFor } from "./sockets.js";

const stack = useEdgeWithSocket();

const send = (who: Account, roomId: string, body: string) => ok(stack.edge.api("POST", "/api/v1/messages", { token: who.accessToken, body: { roomId, body } }), 201);

describe("search over the socket", () => {
  it("answers a search frame with hits and counts of the caller's rooms only, pages, and names a bad field", async () => {
    const ada = await stack.edge.signUp("wsa");
    const bob = await stack.edge.signUp("wsb");
    const shared = await roomWithMembers(stack.edge, ada, [bob]);
    const hidden = await roomWithMembers(stack.edge, ada, []);
    const first = await send(ada, shared, "the wombat report is late");
    const second = await send(bob, shared, "wombat numbers attached");
    await send(ada, hidden, "a wombat only Ada can see");

    const raw = await RawSocket.open(stack.socket.url, bob.accessToken);
    const answer = await raw.request({ ref: "s1", search: { query: "wombat", order: "SEARCH_ORDER_NEWEST", limit: 1 } });
    expect(answer.ack.search.hits.map((h: { message: { id: string } }) => h.message.id)).toEqual([second.id]);
    expect(answer.ack.search.roomCounts).toEqual([{ roomId: shared, count: 2 }]);
    expect(answer.ack.search.hits[0].snippet).toContainEqual({ text: "wombat", highlighted: true });
    const page2 = await raw.request({ ref: "s2", search: { query: "wombat", order: "SEARCH_ORDER_NEWEST", limit: 1, pageToken: answer.ack.search.nextPageToken } });
    expect(page2.ack.search.hits.map((h: { message: { id: string } }) => h.message.id)).toEqual([first.id]);
    expect(page2.ack.search.nextPageToken ?? "").toBe("");
    const bad = await raw.request({ ref: "s3", search: { query: " " } });
    expect(bad.error).toMatchObject({ ref: "s3", code: "INVALID_ARGUMENT", field: "query" });
    const badZone = await raw.request({ ref: "s4", search: { query: "wombat", timeZone: "Mars/Olympus_Mons" } });
    expect(badZone.error).toMatchObject({ code: "INVALID_ARGUMENT", field: "timeZone" });
    raw.close();

    const client = new LiveClient({ url: stack.socket.url, getToken: async () => ada.accessToken, WebSocket: WebSocket as never, backoff: { baseMs: 50, maxMs: 200 } });
    client.connect();
    try {
      await waitFor(() => client.connectionState === "live");
      const all = await client.search("wombat", { order: "newest", timeZone: "Europe/Paris" });
      expect(all.hits).toHaveLength(3);
      expect(all.roomCounts.map((c) => [c.roomId, c.count]).sort()).toEqual([[hidden, 1], [shared, 2]].sort());
      const one = await client.search("wombat", { roomIds: [hidden] });
      expect(one.hits.map((h) => h.message?.body)).toEqual(["a wombat only Ada can see"]);
      await expect(client.search("has:video")).rejects.toMatchObject({ code: "INVALID_ARGUMENT", field: "query" } satisfies Partial<LiveError>);
    } finally {
      client.close();
    }
  });
});
