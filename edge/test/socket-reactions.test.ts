// Reactions over the live socket tier: a reaction is a change of its message (its `change` moves),
// so it comes live as messageEdited and, for a client that was away, once on resume in the
// message's current state, over the raw socket and through @parley/client's LiveClient.
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { LiveClient, type Message } from "@parley/client";
import { ok, roomWithMembers, type Account, useEdgeWithSocket } from "./harness.js";
import { RawSocket, waitFor } from "./sockets.js";

const stack = useEdgeWithSocket();

const react = (who: Account, id: string, emoji: string, method: "PUT" | "DELETE" = "PUT") =>
  ok(stack.edge.api(method, `/api/v1/messages/${id}/reactions/${encodeURIComponent(emoji)}`, { token: who.accessToken, body: method === "PUT" ? {} : undefined }));

async function roomOf(owner: Account, ...members: Account[]) {
  const roomId = await roomWithMembers(stack.edge, owner, members);
  const sent = [];
  for (const body of ["one", "two", "three"]) sent.push(await ok(stack.edge.api("POST", "/api/v1/messages", { token: owner.accessToken, body: { roomId, body } }), 201));
  return { roomId, sent, room: await ok(stack.edge.api("GET", `/api/v1/rooms/${roomId}`, { token: owner.accessToken })) };
}

const summary = (m: Message) => m.reactions.map((r) => `${r.emoji}${r.count}`).join(" ");

describe("reactions on the room's stream", () => {
  it("replays the reactions made while a raw socket was away once per message, in its current state", async () => {
    const alice = await stack.edge.signUp("xa");
    const bob = await stack.edge.signUp("xb");
    const { roomId, sent, room } = await roomOf(alice, bob);
    await react(bob, sent[0].id, "🎉");
    await react(alice, sent[0].id, "🎉");
    await react(alice, sent[1].id, "👍");
    await react(alice, sent[1].id, "👍", "DELETE"); // two: back as sent
    await react(bob, sent[2].id, ":heart:");
    await react(bob, sent[0].id, "👋🏽");
    const ws = await RawSocket.open(stack.socket.url, bob.accessToken);
    const from = ws.frames.length;
    ws.send({ ref: "r", subscribe: { roomId, position: { messages: "3", room: String(room.lastChange) } } });
    const live = await ws.next((f) => f.live?.roomId === roomId, 30_000, from);
    const frames = ws.frames.slice(from, ws.frames.indexOf(live, from)).filter((f) => f.messageCreated || f.messageEdited);
    const replayed = frames.map((f) => (f.messageEdited ?? f.messageCreated).message);
    expect(replayed.map((m: any) => m.body)).toEqual(["two", "three", "one"]);
    expect(frames.map((f) => (f.messageEdited ? "edited" : "created"))).toEqual(["created", "edited", "edited"]);
    expect(replayed[2].reactions.map((r: any) => [r.emoji, r.count])).toEqual([["🎉", 2], ["👋🏽", 1]]);
    expect(replayed[1].reactions.map((r: any) => r.emoji)).toEqual(["❤️"]);
    ws.close();
  });

  it("brings a LiveClient reactions live, and those made while it was away once on resume, the one taken back included", async () => {
    const alice = await stack.edge.signUp("la");
    const bob = await stack.edge.signUp("lb");
    const { roomId, sent, room } = await roomOf(alice, bob);
    const open = (from: { messages: bigint; room: bigint; lastSeq: bigint }) => {
      const client = new LiveClient({ url: stack.socket.url, getToken: async () => bob.accessToken, WebSocket: WebSocket as never, backoff: { baseMs: 50, maxMs: 200 } });
      const edited: Message[] = [];
      const created: Message[] = [];
      client.on("edited", (m) => edited.push(m));
      client.on("message", (m) => created.push(m));
      client.subscribe(roomId, from);
      client.connect();
      return { client, edited, created };
    };
    const first = open({ messages: 3n, room: BigInt(room.lastChange), lastSeq: 3n });
    await waitFor(() => first.client.connectionState === "live" && first.client.position(roomId) !== undefined);
    await react(alice, sent[0].id, "🎉");
    await waitFor(() => first.edited.length === 1);
    expect(summary(first.edited[0]!)).toBe("🎉1");
    const position = first.client.position(roomId)!;
    expect(position.messages).toBe(4n);
    first.client.close();

    // Away: a reaction added, one added and taken back, one more on the first message.
    await react(bob, sent[2].id, "🚀");
    await react(alice, sent[1].id, "👍");
    await react(alice, sent[1].id, "👍", "DELETE");
    await react(bob, sent[0].id, "🎉");
    const marker = await ok(stack.edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId, body: "marker" } }), 201);

    const second = open({ ...position, lastSeq: 3n });
    await waitFor(() => second.created.length === 1);
    expect(second.created.map((m) => m.id)).toEqual([marker.id]);
    expect(second.edited.map((m) => [m.body, summary(m)])).toEqual([
      ["three", "🚀1"],
      ["two", ""],
      ["one", "🎉2"],
    ]);
    expect(second.client.position(roomId)?.messages).toBe(9n);
    second.client.close();
  });

  it("replays a pin, an unpin and a reaction made while away once each, in the order they were made, to a raw socket and to a LiveClient", async () => {
    const alice = await stack.edge.signUp("pa");
    const bob = await stack.edge.signUp("pb");
    const { roomId, sent } = await roomOf(alice, bob);
    const pin = (id: string, method: "PUT" | "DELETE") => ok(stack.edge.api(method, `/api/v1/messages/${id}/pin`, { token: alice.accessToken, body: method === "PUT" ? {} : undefined }));
    // Before Bob goes away: the third message is pinned.
    await pin(sent[2].id, "PUT");
    const before = await ok(stack.edge.api("GET", `/api/v1/messages/${roomId}?limit=50`, { token: bob.accessToken }));
    const position = { messages: String(before.lastChange), room: String((await ok(stack.edge.api("GET", `/api/v1/rooms/${roomId}`, { token: bob.accessToken }))).lastChange) };
    // Away: the first pinned, a reaction on the second, the third unpinned.
    await pin(sent[0].id, "PUT");
    await react(alice, sent[1].id, "🎉");
    await pin(sent[2].id, "DELETE");
    const expected = [
      ["one", true, ""],
      ["two", false, "🎉1"],
      ["three", false, ""],
    ];

    const ws = await RawSocket.open(stack.socket.url, bob.accessToken);
    const from = ws.frames.length;
    ws.send({ ref: "p", subscribe: { roomId, position } });
    const live = await ws.next((f) => f.live?.roomId === roomId, 30_000, from);
    const replay = ws.frames.slice(from, ws.frames.indexOf(live, from)).filter((f) => f.messageCreated || f.messageEdited || f.messageDeleted);
    // Each message once, in its current state (a raw subscribe without lastSeq may label one as created).
    expect(replay.some((f) => f.messageDeleted)).toBe(false);
    const messages = replay.map((f) => (f.messageEdited ?? f.messageCreated).message);
    expect(messages.map((m: any) => [m.body, Boolean(m.pinTime), (m.reactions ?? []).map((r: any) => `${r.emoji}${r.count}`).join(" ")])).toEqual(expected);
    const changes = messages.map((m: any) => Number(m.change));
    expect(changes).toEqual([before.lastChange + 1, before.lastChange + 2, before.lastChange + 3]);
    ws.close();

    const client = new LiveClient({ url: stack.socket.url, getToken: async () => bob.accessToken, WebSocket: WebSocket as never, backoff: { baseMs: 50, maxMs: 200 } });
    const seen: string[] = [];
    client.on("edited", (m) => seen.push(`edited ${m.body} pinned=${Boolean(m.pinTime)} ${summary(m)}`.trim()));
    client.on("message", (m) => seen.push(`created ${m.body}`));
    client.on("deleted", (m) => seen.push(`deleted ${m.id}`));
    client.subscribe(roomId, { messages: BigInt(position.messages), room: BigInt(position.room), lastSeq: 3n });
    client.connect();
    await waitFor(() => client.position(roomId)?.messages === BigInt(before.lastChange + 3));
    // A live change after the replay comes after it, once: nothing of the replay again.
    await react(bob, sent[0].id, "👍");
    await waitFor(() => seen.length === 4);
    expect(seen).toEqual(["edited one pinned=true", "edited two pinned=false 🎉1", "edited three pinned=false", "edited one pinned=true 👍1"]);
    client.close();
  });
});
