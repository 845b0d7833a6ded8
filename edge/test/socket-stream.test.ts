// The room's stream over a live socket tier: a client that was away gets every change made
// meanwhile (edits and deletes anywhere in its history, member and room changes) exactly once, in
// order, and ends in the state a fresh load shows; a second subscribe replays after its new
// position; a position ahead of the room is refused with OUT_OF_RANGE; a client far behind catches
// up page by page.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ok, roomWithMembers, startTestEdge, startTestSocket, type Account, type TestEdge } from "./harness.js";
import { RawSocket, type Frame } from "./sockets.js";

let edge: TestEdge;
let socket: Awaited<ReturnType<typeof startTestSocket>>;
const busy = { RATE_REGISTER_PER_HOUR: "1000", RATE_SEND_PER_10S_USER: "100000", RATE_SEND_PER_10S_ADDRESS: "100000", RATE_WRITE_PER_10S_USER: "100000", RATE_READ_PER_10S_USER: "100000" };
beforeAll(async () => {
  edge = await startTestEdge(busy);
  socket = await startTestSocket(edge.parley, { ...busy, SOCKET_FRAMES_PER_SECOND: "5000", LOG_LEVEL: process.env.SOCKET_LOG_LEVEL ?? "silent" });
}, 120_000);
afterAll(async () => {
  await socket?.stop();
  await edge?.stop();
});

interface Position {
  messages: number;
  room: number;
}
const STREAM = ["messageCreated", "messageEdited", "messageDeleted", "memberJoined", "memberLeft", "memberKicked", "memberRoleChanged", "roomUpdated"];
const kindOf = (frame: Frame) => STREAM.find((kind) => frame[kind]);


/** Sends `count` messages over a socket, 50 in flight at a time. */
let sends = 0;
async function sendMany(ws: RawSocket, roomId: string, count: number, body = (i: number) => `message ${i}`) {
  for (let start = 1; start <= count; start += 50) {
    const batch = [];
    for (let i = start; i < Math.min(start + 50, count + 1); i++) {
      const id = ++sends;
      batch.push(ws.request({ ref: `s${id}`, send: { roomId, clientMsgId: `c${id}`, body: body(i) } }, 60_000));
    }
    for (const answer of await Promise.all(batch)) expect(answer.ack, JSON.stringify(answer)).toBeDefined();
  }
}

/** The whole history as a fresh load reads it (REST pages), by id. */
async function freshLoad(account: Account, roomId: string) {
  const byId = new Map<string, any>();
  let after = 0;
  for (;;) {
    const page = await ok(edge.api("GET", `/api/v1/messages/${roomId}?after=${after}&limit=100`, { token: account.accessToken }));
    for (const message of page.messages) byId.set(message.id, message);
    if (!page.hasNewer) return { byId, lastChange: page.lastChange as number };
    after = page.messages.at(-1).seq;
  }
}

/** Subscribes from a position and collects the stream frames of the replay, up to Live. */
async function resume(ws: RawSocket, roomId: string, position: Position, ref: string) {
  const from = ws.frames.length;
  ws.send({ ref, subscribe: { roomId, position: { messages: String(position.messages), room: String(position.room) } } });
  const live = await ws.next((f) => f.live?.roomId === roomId, 60_000, from);
  const at = ws.frames.indexOf(live, from);
  const ack = await ws.next((f) => f.ack?.ref === ref, 10_000, from);
  expect(ws.frames.indexOf(ack, from)).toBeGreaterThan(at); // the ack comes after Live
  return { frames: ws.frames.slice(from, at).filter(kindOf), live };
}

const roomWith = (owner: Account, ...members: Account[]) => roomWithMembers(edge, owner, members);

describe("the room's stream on resume", () => {
  it("gives a client that was away every edit, delete, role change and rename made meanwhile, once, in order, and the state of a fresh load", async () => {
    const alice = await edge.signUp("sa");
    const bob = await edge.signUp("sb");
    const roomId = await roomWith(alice, bob);
    const writer = await RawSocket.open(socket.url, alice.accessToken);
    await sendMany(writer, roomId, 150);

    // Bob loads the whole history and the room, and keeps their positions; then he is away.
    const loaded = await freshLoad(bob, roomId);
    const room = await ok(edge.api("GET", `/api/v1/rooms/${roomId}`, { token: bob.accessToken }));
    const position: Position = { messages: loaded.lastChange, room: room.lastChange };
    expect(position.messages).toBe(150);
    const copy = new Map([...loaded.byId].map(([id, m]) => [id, { body: m.body, deleted: m.deleted, seq: m.seq }]));

    // Meanwhile: 20 edits and 10 deletes spread over the history (the oldest included), a role change, a rename.
    const history = [...loaded.byId.values()].sort((a, b) => a.seq - b.seq);
    const edited = history.filter((_, i) => i % 7 === 0).slice(0, 20);
    const deleted = history.filter((_, i) => i % 7 === 3).slice(0, 10);
    for (const message of edited) await ok(edge.api("PUT", `/api/v1/messages/${message.id}`, { token: alice.accessToken, body: { body: `${message.body} (edited)` } }));
    for (const message of deleted) await ok(edge.api("DELETE", `/api/v1/messages/${message.id}`, { token: alice.accessToken }), 204);
    await ok(edge.api("PUT", `/api/v1/rooms/${roomId}/members/${bob.user.id}`, { token: alice.accessToken, body: { role: "admin" } }));
    await ok(edge.api("PUT", `/api/v1/rooms/${roomId}`, { token: alice.accessToken, body: { name: "renamed while you were away" } }));
    // The same message edited twice comes once, in its latest state.
    await ok(edge.api("PUT", `/api/v1/messages/${edited[0].id}`, { token: alice.accessToken, body: { body: "edited twice" } }));

    const bobWs = await RawSocket.open(socket.url, bob.accessToken);
    const { frames, live } = await resume(bobWs, roomId, position, "resume");
    const kinds = frames.map(kindOf);
    expect(kinds.filter((k) => k === "messageEdited")).toHaveLength(20);
    expect(kinds.filter((k) => k === "messageDeleted")).toHaveLength(10);
    expect(kinds.filter((k) => k === "memberRoleChanged")).toHaveLength(1);
    expect(kinds.filter((k) => k === "roomUpdated")).toHaveLength(1);
    expect(frames).toHaveLength(32);
    // In order within each lane, each position once.
    const lanePositions = (lane: "messages" | "room") => frames.map((f) => Number(f.position?.[lane] ?? 0)).filter((p) => p > 0);
    for (const lane of ["messages", "room"] as const) {
      const seen = lanePositions(lane);
      expect(seen).toEqual([...new Set(seen)].sort((a, b) => a - b));
    }
    expect(lanePositions("messages")).toHaveLength(30);
    expect(lanePositions("room")).toHaveLength(2);
    for (const frame of frames) {
      const message = frame.messageEdited?.message ?? frame.messageDeleted?.message;
      if (message) copy.set(message.id, { body: message.body ?? "", deleted: Boolean(message.deleted), seq: Number(message.seq) });
    }
    // Bob's copy is now what a fresh load shows, and Live says where both lanes stand.
    const fresh = await freshLoad(bob, roomId);
    expect(copy.size).toBe(fresh.byId.size);
    for (const [id, message] of fresh.byId) expect(copy.get(id), `message ${message.seq}`).toEqual({ body: message.body, deleted: message.deleted, seq: message.seq });
    expect(copy.get(edited[0].id)?.body).toBe("edited twice");
    const after = await ok(edge.api("GET", `/api/v1/rooms/${roomId}`, { token: bob.accessToken }));
    expect(after).toMatchObject({ name: "renamed while you were away", membership: { role: "admin" } });
    expect(live.position).toEqual({ messages: String(fresh.lastChange), room: String(after.lastChange) });
    expect(live.live.lastSeq).toBe("150");
    expect(frames.find((f) => f.roomUpdated)?.roomUpdated.room.name).toBe("renamed while you were away");
    expect(frames.find((f) => f.memberRoleChanged)?.memberRoleChanged).toMatchObject({ userId: bob.user.id, membership: { role: "ROLE_ADMIN" } });

    // REST gives internal tools the same changes from the same position.
    const changes = await ok(edge.api("GET", `/api/v1/rooms/${roomId}/changes?afterMessages=${position.messages}&afterRoom=${position.room}`, { token: bob.accessToken }));
    expect(changes.messages.map((m: { id: string }) => m.id)).toEqual(frames.filter((f) => f.messageEdited || f.messageDeleted).map((f) => (f.messageEdited ?? f.messageDeleted).message.id));
    expect(changes.roomChanges.map((c: { kind: string }) => c.kind)).toEqual(["memberRoleChanged", "roomUpdated"]);
    expect(changes).toMatchObject({ hasMore: false, position: { messages: fresh.lastChange, room: after.lastChange } });

    // Live again: a new edit comes once, with its position.
    await ok(edge.api("PUT", `/api/v1/messages/${history[1].id}`, { token: alice.accessToken, body: { body: "live edit" } }));
    const liveEdit = await bobWs.next((f) => f.messageEdited?.message.body === "live edit");
    expect(liveEdit.position.messages).toBe(String(fresh.lastChange + 1));
    writer.close();
    bobWs.close();
  }, 180_000);

  it("replays after the new position when a socket subscribes again to a room it has (hole recovery), then Live and the ack", async () => {
    const alice = await edge.signUp("ra");
    const roomId = await roomWith(alice);
    const ws = await RawSocket.open(socket.url, alice.accessToken);
    await sendMany(ws, roomId, 5);
    const first = await resume(ws, roomId, { messages: 0, room: 0 }, "first");
    expect(first.frames.filter((f) => f.messageCreated)).toHaveLength(5);
    // Again, from message 3's position: 4 and 5 come again, nothing else, then Live.
    const again = await resume(ws, roomId, { messages: 3, room: Number(first.live.position.room) }, "again");
    expect(again.frames.map((f) => f.messageCreated?.message.seq)).toEqual(["4", "5"]);
    expect(again.live.position.messages).toBe("5");
    // Still live once: a new message arrives once.
    const frames = ws.frames.length;
    await sendMany(ws, roomId, 1, () => "after the second subscribe");
    await ws.next((f) => f.messageCreated?.message.body === "after the second subscribe", 10_000, frames);
    // A ping answered after the message: anything sent twice would have come before its pong.
    ws.send({ ping: { nonce: "after" } });
    await ws.next((f) => f.pong?.nonce === "after", 10_000, frames);
    expect(ws.frames.slice(frames).filter((f) => f.messageCreated?.message.body === "after the second subscribe")).toHaveLength(1);
    ws.close();
  }, 60_000);

  it("replays after the new seq when a socket subscribes again with afterSeq (the deprecated form of hole recovery)", async () => {
    const alice = await edge.signUp("rs");
    const roomId = await roomWith(alice);
    const ws = await RawSocket.open(socket.url, alice.accessToken);
    await sendMany(ws, roomId, 5);
    await ws.request({ ref: "first", subscribe: { roomId, afterSeq: "0" } });
    const from = ws.frames.length;
    const answer = await ws.request({ ref: "again", subscribe: { roomId, afterSeq: "3" } });
    expect(answer.ack).toBeDefined();
    const replayed = ws.frames.slice(from).filter((f) => f.messageCreated).map((f) => f.messageCreated.message.seq);
    expect(replayed).toEqual(["4", "5"]);
    expect(ws.frames.slice(from).some((f) => f.live?.roomId === roomId)).toBe(true);
    ws.close();
  }, 60_000);

  it("refuses a position ahead of the room with OUT_OF_RANGE for that room", async () => {
    const alice = await edge.signUp("oa");
    const roomId = await roomWith(alice);
    const ws = await RawSocket.open(socket.url, alice.accessToken);
    await sendMany(ws, roomId, 3);
    for (const position of [{ messages: "4", room: "0" }, { messages: "0", room: "99" }]) {
      const answer = await ws.request({ ref: `ahead-${position.room}`, subscribe: { roomId, position } });
      expect(answer.error).toMatchObject({ code: "OUT_OF_RANGE", roomId });
      expect(answer.error.message).toMatch(/load it afresh/);
    }
    ws.close();
  }, 60_000);

  it("starts a deprecated afterSeq beyond the room's head at the head: Live.lastSeq is the room's newest seq", async () => {
    const alice = await edge.signUp("ob");
    const roomId = await roomWith(alice);
    const ws = await RawSocket.open(socket.url, alice.accessToken);
    await sendMany(ws, roomId, 3);
    const answer = await ws.request({ ref: "beyond", subscribe: { roomId, afterSeq: "99" } });
    expect(answer.ack).toBeDefined();
    const live = await ws.next((f) => f.live?.roomId === roomId);
    expect(live.live.lastSeq).toBe("3");
    ws.close();
  }, 60_000);

  it("catches up a client thousands of changes behind, page by page, each change once, in the state of a fresh load", async () => {
    const alice = await edge.signUp("ma");
    const bob = await edge.signUp("mb");
    const roomId = await roomWith(alice, bob);
    const writer = await RawSocket.open(socket.url, alice.accessToken);
    const body = (i: number) => `${"a month of chat ".repeat(40)}${i}`;
    await sendMany(writer, roomId, 2500, body);
    const history = await freshLoad(alice, roomId);
    const messages = [...history.byId.values()].sort((a, b) => a.seq - b.seq);
    for (let i = 0; i < 500; i += 25) {
      await Promise.all(messages.slice(i, i + 25).map((m) => ok(edge.api("PUT", `/api/v1/messages/${m.id}`, { token: alice.accessToken, body: { body: `edited ${m.seq}` } }))));
    }
    // The reader's node keeps little per socket: the replay waits for drain between pages.
    const narrow = await startTestSocket(edge.parley, { ...busy, SOCKET_SLOW_CONSUMER_BYTES: String(128 * 1024), LOG_LEVEL: "silent" });
    try {
      const reader = await RawSocket.open(narrow.url, bob.accessToken);
      const { frames, live } = await resume(reader, roomId, { messages: 0, room: 0 }, "month");
      const stream = frames.filter((f) => f.messageCreated || f.messageEdited);
      expect(stream).toHaveLength(2500);
      const ids = stream.map((f) => (f.messageCreated ?? f.messageEdited).message.id);
      expect(new Set(ids).size).toBe(2500);
      const positions = stream.map((f) => Number(f.position.messages));
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      expect(live.position.messages).toBe("3000");
      const fresh = await freshLoad(bob, roomId);
      for (const frame of stream) {
        const message = (frame.messageCreated ?? frame.messageEdited).message;
        expect(message.body).toBe(fresh.byId.get(message.id).body);
      }
      expect(reader.closed).toBeUndefined();
      reader.close();
    } finally {
      await narrow.stop();
    }
    writer.close();
  }, 300_000);
});
