// Threads over the live socket tier (issue 16): a reply is a message of the room (its room seq and
// stream position), and its root's new summary is the root's next change. A client that was away
// gets the replies and the roots' summaries once each, in order, on resume: over the raw socket and
// through @parley/client's LiveClient. A non-member cannot subscribe to a private room's threads.
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { LiveClient, type Message } from "@parley/client";
import { ok, roomWithMembers, type Account, useEdgeWithSocket } from "./harness.js";
import { RawSocket, waitFor } from "./sockets.js";

const stack = useEdgeWithSocket();

const send = (who: Account, roomId: string, body: string, extra: { threadRootId?: string; alsoSendToRoom?: boolean } = {}) =>
  ok(stack.edge.api("POST", "/api/v1/messages", { token: who.accessToken, body: { roomId, body, ...extra } }), 201);

async function roomOf(owner: Account, ...members: Account[]) {
  const roomId = await roomWithMembers(stack.edge, owner, members);
  const root = await send(owner, roomId, "root");
  return { roomId, root, room: await ok(stack.edge.api("GET", `/api/v1/rooms/${roomId}`, { token: owner.accessToken })) };
}

describe("threads on the room's stream", () => {
  it("replays thread replies and the root's summary made while a raw socket was away once each, in stream order", async () => {
    const alice = await stack.edge.signUp("ha");
    const bob = await stack.edge.signUp("hb");
    const { roomId, root, room } = await roomOf(alice, bob);
    const r1 = await send(bob, roomId, "r1", { threadRootId: root.id });
    const r2 = await send(alice, roomId, "r2", { threadRootId: root.id, alsoSendToRoom: true });
    const r3 = await send(bob, roomId, "r3", { threadRootId: r1.id });
    await ok(stack.edge.api("DELETE", `/api/v1/messages/${r3.id}`, { token: bob.accessToken }), 204);
    const ws = await RawSocket.open(stack.socket.url, bob.accessToken);
    const from = ws.frames.length;
    ws.send({ ref: "r", subscribe: { roomId, position: { messages: String(root.change), room: String(room.lastChange) } } });
    const live = await ws.next((f) => f.live?.roomId === roomId, 30_000, from);
    const frames = ws.frames.slice(from, ws.frames.indexOf(live, from)).filter((f) => f.messageCreated || f.messageEdited || f.messageDeleted);
    const kinds = frames.map((f) => (f.messageCreated ? "created" : f.messageEdited ? "edited" : "deleted"));
    const replayed = frames.map((f) => (f.messageCreated ?? f.messageEdited ?? f.messageDeleted).message);
    // Each message once, at its latest change: r1, r2, the deleted r3, then the root's summary.
    expect(replayed.map((m: any) => m.id)).toEqual([r1.id, r2.id, r3.id, root.id]);
    expect(kinds).toEqual(["created", "created", "deleted", "edited"]);
    expect(replayed.slice(0, 2).map((m: any) => [m.threadRootId, m.alsoSentToRoom ?? false])).toEqual([
      [root.id, false],
      [root.id, true],
    ]);
    expect(replayed[3].thread).toMatchObject({ replyCount: 2, participantIds: [alice.user.id, bob.user.id] });
    ws.close();
  });

  it("brings a LiveClient replies and root summaries live, and those made while it was away once on resume", async () => {
    const alice = await stack.edge.signUp("hl");
    const bob = await stack.edge.signUp("hm");
    const { roomId, root, room } = await roomOf(alice, bob);
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
    const first = open({ messages: BigInt(root.change), room: BigInt(room.lastChange), lastSeq: 1n });
    await waitFor(() => first.client.connectionState === "live" && first.client.position(roomId) !== undefined);
    const live = await send(alice, roomId, "live reply", { threadRootId: root.id });
    await waitFor(() => first.created.length === 1 && first.edited.length === 1);
    expect(first.created[0]).toMatchObject({ id: live.id, threadRootId: root.id });
    expect(first.edited[0]).toMatchObject({ id: root.id, thread: { replyCount: 1 } });
    const position = first.client.position(roomId)!;
    first.client.close();

    // Away: two replies (one of them to a reply: the same thread), one of them deleted, a second thread.
    const other = await send(alice, roomId, "other root");
    const a1 = await send(alice, roomId, "a1", { threadRootId: live.id });
    const a2 = await send(alice, roomId, "a2", { threadRootId: root.id });
    await ok(stack.edge.api("DELETE", `/api/v1/messages/${a1.id}`, { token: alice.accessToken }), 204);
    const o1 = await send(alice, roomId, "o1", { threadRootId: other.id });

    const second = open({ ...position, lastSeq: BigInt(live.seq) });
    await waitFor(() => second.created.some((m) => m.id === other.id), 20_000);
    // Each message once, in the order of its latest change: a message new to the client comes as
    // new in its current state (the deleted a1 as its tombstone, "other root" with its summary),
    // the root it has as edited, with its summary after every change made while it was away.
    expect(second.created.map((m) => [m.id, m.deleted, m.thread?.replyCount ?? 0])).toEqual([
      [a2.id, false, 0],
      [a1.id, true, 0],
      [o1.id, false, 0],
      [other.id, false, 1],
    ]);
    expect(second.edited.map((m) => [m.id, m.thread?.replyCount, m.thread?.participantIds])).toEqual([[root.id, 2, [alice.user.id]]]);
    expect(second.created.find((m) => m.id === a2.id)?.threadRootId).toBe(root.id);
    expect(second.client.position(roomId)?.messages).toBe(BigInt(o1.change) + 1n);
    second.client.close();
  });

  it("refuses a non-member's subscription to a private room with threads exactly like a random room's", async () => {
    const alice = await stack.edge.signUp("hx");
    const mallory = await stack.edge.signUp("hy");
    const { roomId, root } = await roomOf(alice);
    await send(alice, roomId, "secret reply", { threadRootId: root.id });
    const ws = await RawSocket.open(stack.socket.url, mallory.accessToken);
    ws.send({ ref: "hidden", subscribe: { roomId } });
    ws.send({ ref: "random", subscribe: { roomId: "01900000-0000-7000-8000-000000000000" } });
    const hidden = await ws.next((f) => f.error?.ref === "hidden");
    const random = await ws.next((f) => f.error?.ref === "random");
    expect([hidden.error.code, hidden.error.message]).toEqual([random.error.code, random.error.message]);
    expect(hidden.error.code).toBe("NOT_FOUND");
    expect(ws.frames.some((f) => f.messageCreated || f.messageEdited)).toBe(false);
    ws.close();
  });
});
