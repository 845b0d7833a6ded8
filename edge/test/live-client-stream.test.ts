// @parley/client's side of the resumable stream (issue 15), against a scripted socket: the
// frames a server sends, in the orders a server may send them. What the socket tier does with
// positions is tested against the real tier in socket.test.ts and multinode.test.ts; this file
// pins down what the client does with what it receives, without a server: its position per room
// and lane, upserts, exactly-once new messages, holes, resets and resumes.
import { EventEmitter, once } from "node:events";
import { describe, expect, it } from "vitest";
import { create, fromJsonString, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema, type ClientFrame } from "@parley/proto/socket/v1/socket_pb";
import { MessageSchema } from "@parley/proto/message/v1/message_pb";
import { LiveClient, type LiveEvents, type Message, type WebSocketLike } from "@parley/client";

const ROOM = "room-1";

/** A socket the test plays the server of: it opens at once, and records every frame the client writes. */
class ScriptedSocket implements WebSocketLike {
  static all: ScriptedSocket[] = [];
  /** Told of each socket the client opens (nextSocket waits on it). */
  static opened = new EventEmitter();
  binaryType = "";
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  readonly written: ClientFrame[] = [];

  constructor(readonly url: string) {
    ScriptedSocket.all.push(this);
    this.readyState = 1;
    ScriptedSocket.opened.emit("socket");
  }

  send(data: string | Uint8Array): void {
    this.written.push(fromJsonString(ClientFrameSchema, data as string));
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** The server sends a frame. */
  push(frame: MessageInitShape<typeof ServerFrameSchema>): void {
    this.onmessage?.({ data: toJsonString(ServerFrameSchema, create(ServerFrameSchema, frame)) });
  }

  hello(): void {
    this.push({ frame: { case: "hello", value: { userId: "me", tokenExpiresAtMs: BigInt(Date.now() + 3_600_000), nodeId: "n1" } } });
  }

  subscribes(): { roomId: string; afterSeq?: bigint; position?: { messages: bigint; room: bigint } }[] {
    return this.written.flatMap((f) =>
      f.frame.case === "subscribe"
        ? [{ roomId: f.frame.value.roomId, afterSeq: f.frame.value.afterSeq, ...(f.frame.value.position && { position: { messages: f.frame.value.position.messages, room: f.frame.value.position.room } }) }]
        : [],
    );
  }
}

function message(seq: number, body: string, extra: { deleted?: boolean; edited?: boolean } = {}): Message {
  return create(MessageSchema, {
    id: `m${seq}`,
    roomId: ROOM,
    seq: BigInt(seq),
    senderId: "other",
    body: extra.deleted ? "" : body,
    deleted: extra.deleted ?? false,
    ...(extra.edited && { editTime: { seconds: 1n, nanos: 0 } }),
  });
}

type Kind = "messageCreated" | "messageEdited" | "messageDeleted";
const at = (messages: number, room: number) => ({ messages: BigInt(messages), room: BigInt(room) });

function messageFrame(kind: Kind, m: Message, position?: { messages: bigint; room: bigint }): MessageInitShape<typeof ServerFrameSchema> {
  return { ...(position && { position }), frame: { case: kind, value: { message: m } } };
}

function liveFrame(lastSeq: number, position?: { messages: bigint; room: bigint }): MessageInitShape<typeof ServerFrameSchema> {
  return { ...(position && { position }), frame: { case: "live", value: { roomId: ROOM, lastSeq: BigInt(lastSeq) } } };
}

function ack(): MessageInitShape<typeof ServerFrameSchema> {
  return { frame: { case: "ack", value: { ref: `sub:${ROOM}` } } };
}

/** A client on a scripted socket, and everything it emits, in order. */
function setUp() {
  ScriptedSocket.all = [];
  const client = new LiveClient({
    url: "ws://scripted/ws",
    getToken: async () => "token",
    WebSocket: ScriptedSocket,
    backoff: { baseMs: 1, maxMs: 1 },
  });
  const events: { event: keyof LiveEvents; seq?: number; body?: string; deleted?: boolean; userId?: string; roomId?: string }[] = [];
  const record = (event: keyof LiveEvents) => (m: Message) => events.push({ event, seq: Number(m.seq), body: m.body, deleted: m.deleted });
  client.on("message", record("message"));
  client.on("edited", record("edited"));
  client.on("deleted", record("deleted"));
  client.on("member", (m) => events.push({ event: "member", userId: m.userId }));
  client.on("roomUpdated", (r) => events.push({ event: "roomUpdated", body: r.room?.name ?? "" }));
  client.on("reset", (r) => events.push({ event: "reset", roomId: r.roomId }));
  client.on("live", () => events.push({ event: "live" }));
  return { client, events };
}

/** The socket the client opened most recently, once it has (getToken is async). */
/** The client's `count`th socket, once it opens it (woken by each socket it opens). */
async function nextSocket(count: number): Promise<ScriptedSocket> {
  const deadline = Date.now() + 5_000;
  while (ScriptedSocket.all.length < count) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`the client opened no socket #${count}`);
    await Promise.race([once(ScriptedSocket.opened, "socket"), new Promise((r) => setTimeout(r, left))]);
  }
  return ScriptedSocket.all[count - 1]!;
}

async function connected(client: LiveClient): Promise<ScriptedSocket> {
  client.connect();
  const socket = await nextSocket(1);
  socket.hello();
  return socket;
}

describe("LiveClient: the stream position per room", () => {
  it("subscribes from the position it is given, follows every frame's position, and resumes from it after a drop", async () => {
    const { client, events } = setUp();
    client.subscribe(ROOM, { messages: 10n, room: 3n, lastSeq: 8n });
    const first = await connected(client);
    expect(first.subscribes()).toEqual([{ roomId: ROOM, afterSeq: undefined, position: at(10, 3) }]);

    // The replay: positions jump (each changed message once, at its latest change).
    first.push(messageFrame("messageEdited", message(2, "two, edited", { edited: true }), at(13, 3)));
    first.push(messageFrame("messageDeleted", message(5, "", { deleted: true }), at(17, 3)));
    first.push({ position: at(17, 4), frame: { case: "memberJoined", value: { roomId: ROOM, userId: "newcomer", byUserId: "newcomer" } } });
    first.push(messageFrame("messageCreated", message(9, "nine"), at(18, 4)));
    first.push(liveFrame(9, at(18, 4)));
    first.push(ack());
    expect(client.position(ROOM)).toEqual(at(18, 4));
    // Live: each lane goes on one by one.
    first.push(messageFrame("messageEdited", message(9, "nine, edited", { edited: true }), at(19, 4)));
    first.push({ position: at(19, 5), frame: { case: "roomUpdated", value: { room: { id: ROOM, name: "renamed" } } } });
    expect(client.position(ROOM)).toEqual(at(19, 5));

    first.close(1006, "");
    const second = await nextSocket(2);
    second.hello();
    expect(second.subscribes()).toEqual([{ roomId: ROOM, afterSeq: undefined, position: at(19, 5) }]);

    expect(events).toEqual([
      { event: "edited", seq: 2, body: "two, edited", deleted: false },
      { event: "deleted", seq: 5, body: "", deleted: true },
      { event: "member", userId: "newcomer" },
      { event: "message", seq: 9, body: "nine", deleted: false },
      { event: "live" },
      { event: "edited", seq: 9, body: "nine, edited", deleted: false },
      { event: "roomUpdated", body: "renamed" },
    ]);
    client.close();
  });

  it("delivers a message new to it once, whatever the frame and the order of the replay", async () => {
    const { client, events } = setUp();
    client.subscribe(ROOM, { messages: 20n, room: 0n, lastSeq: 10n });
    const socket = await connected(client);
    // Seq 11 was created, then 12; 11 was edited after 12 was created, so it comes after it, as an edit.
    socket.push(messageFrame("messageCreated", message(12, "twelve"), at(22, 0)));
    socket.push(messageFrame("messageEdited", message(11, "eleven, edited", { edited: true }), at(23, 0)));
    // Seq 13 was created and deleted while away: its tombstone, new to the client.
    socket.push(messageFrame("messageDeleted", message(13, "", { deleted: true }), at(24, 0)));
    socket.push(liveFrame(13, at(24, 0)));
    // Live again: an edit of 11 (had it now) and a repeat of what was applied (dropped).
    socket.push(messageFrame("messageEdited", message(11, "eleven, again", { edited: true }), at(25, 0)));
    socket.push(messageFrame("messageEdited", message(11, "eleven, again", { edited: true }), at(25, 0)));
    socket.push(messageFrame("messageCreated", message(14, "fourteen"), at(26, 0)));
    socket.push(messageFrame("messageCreated", message(14, "fourteen"), at(26, 0)));

    expect(events.filter((e) => e.event !== "live")).toEqual([
      { event: "message", seq: 12, body: "twelve", deleted: false },
      { event: "message", seq: 11, body: "eleven, edited", deleted: false },
      { event: "message", seq: 13, body: "", deleted: true },
      { event: "edited", seq: 11, body: "eleven, again", deleted: false },
      { event: "message", seq: 14, body: "fourteen", deleted: false },
    ]);
    expect(client.lastSeq(ROOM)).toBe(14n);
    client.close();
  });

  it("on a hole in a lane, subscribes again from its position and moves it only at the replay's Live", async () => {
    const { client, events } = setUp();
    client.subscribe(ROOM, { messages: 5n, room: 2n, lastSeq: 5n });
    const socket = await connected(client);
    socket.push(liveFrame(5, at(5, 2)));
    socket.push(ack());
    socket.push(messageFrame("messageCreated", message(6, "six"), at(6, 2)));
    // 7 went missing: 8 is a hole.
    socket.push(messageFrame("messageCreated", message(8, "eight"), at(8, 2)));
    expect(socket.subscribes().at(-1)).toEqual({ roomId: ROOM, afterSeq: undefined, position: at(6, 2) });
    // A frame sent before the server read the second Subscribe, then the replay after 6.
    socket.push(messageFrame("messageCreated", message(9, "nine"), at(9, 2)));
    expect(client.position(ROOM)).toEqual(at(6, 2));
    socket.push(messageFrame("messageCreated", message(7, "seven"), at(7, 2)));
    socket.push(messageFrame("messageCreated", message(8, "eight"), at(8, 2)));
    socket.push(messageFrame("messageCreated", message(9, "nine"), at(9, 2)));
    socket.push(liveFrame(9, at(9, 2)));
    socket.push(ack());
    expect(client.position(ROOM)).toEqual(at(9, 2));
    socket.push(messageFrame("messageCreated", message(10, "ten"), at(10, 2)));

    const seqs = events.filter((e) => e.event === "message").map((e) => e.seq);
    expect(seqs.sort((a, b) => a! - b!)).toEqual([6, 7, 8, 9, 10]);
    expect(socket.subscribes()).toHaveLength(2);
    client.close();
  });

  it("a hole in the room lane recovers the same way", async () => {
    const { client, events } = setUp();
    client.subscribe(ROOM, { messages: 1n, room: 1n, lastSeq: 1n });
    const socket = await connected(client);
    socket.push(liveFrame(1, at(1, 1)));
    socket.push({ position: at(1, 3), frame: { case: "memberLeft", value: { roomId: ROOM, userId: "c", byUserId: "c" } } });
    expect(socket.subscribes().at(-1)).toEqual({ roomId: ROOM, afterSeq: undefined, position: at(1, 1) });
    socket.push({ position: at(1, 2), frame: { case: "memberJoined", value: { roomId: ROOM, userId: "b", byUserId: "b" } } });
    socket.push({ position: at(1, 3), frame: { case: "memberLeft", value: { roomId: ROOM, userId: "c", byUserId: "c" } } });
    socket.push(liveFrame(1, at(1, 3)));
    expect(client.position(ROOM)).toEqual(at(1, 3));
    expect(events.filter((e) => e.event === "member").map((e) => e.userId)).toEqual(["c", "b", "c"]);
    client.close();
  });

  it("a position ahead of the room: tells the app, forgets it, goes on live, and takes the app's fresh position", async () => {
    const { client, events } = setUp();
    client.subscribe(ROOM, { messages: 500n, room: 40n, lastSeq: 300n });
    const socket = await connected(client);
    socket.push({ frame: { case: "error", value: { ref: `sub:${ROOM}`, code: "OUT_OF_RANGE", message: "position is ahead of the room", roomId: ROOM } } });
    expect(events).toEqual([{ event: "reset", roomId: ROOM }]);
    expect(client.position(ROOM)).toBeUndefined();
    // Live events meanwhile: a subscription with no replay.
    expect(socket.subscribes().at(-1)).toEqual({ roomId: ROOM, afterSeq: undefined });
    socket.push(liveFrame(120, at(200, 12)));
    expect(client.position(ROOM)).toEqual(at(200, 12));
    // The app reloaded the room: its page was read before the live subscription started.
    client.subscribe(ROOM, { messages: 198n, room: 12n, lastSeq: 119n });
    expect(socket.subscribes().at(-1)).toEqual({ roomId: ROOM, afterSeq: undefined, position: at(198, 12) });
    socket.push(messageFrame("messageEdited", message(100, "a hundred, edited", { edited: true }), at(199, 12)));
    socket.push(messageFrame("messageCreated", message(120, "a hundred and twenty"), at(200, 12)));
    socket.push(liveFrame(120, at(200, 12)));
    expect(events.slice(1).map((e) => [e.event, e.seq])).toEqual([["live", undefined], ["edited", 100], ["message", 120], ["live", undefined]]);
    client.close();
  });

  it("an app position older than the client's replays from it; a newer one changes nothing", async () => {
    const { client } = setUp();
    client.subscribe(ROOM, 4n);
    const socket = await connected(client);
    // No position yet: the deprecated after_seq.
    expect(socket.subscribes()).toEqual([{ roomId: ROOM, afterSeq: 4n }]);
    // While that replay runs, the app's page comes with an older position: it goes once the replay's Live comes.
    client.subscribe(ROOM, { messages: 7n, room: 2n, lastSeq: 6n });
    socket.push(messageFrame("messageCreated", message(7, "seven"), at(9, 2)));
    expect(socket.subscribes()).toHaveLength(1);
    socket.push(liveFrame(7, at(9, 2)));
    expect(socket.subscribes()).toEqual([{ roomId: ROOM, afterSeq: 4n }, { roomId: ROOM, afterSeq: undefined, position: at(7, 2) }]);
    socket.push(messageFrame("messageCreated", message(7, "seven"), at(9, 2)));
    socket.push(liveFrame(7, at(9, 2)));
    expect(client.position(ROOM)).toEqual(at(9, 2));
    client.subscribe(ROOM, { messages: 12n, room: 5n });
    expect(socket.subscribes()).toHaveLength(2);
    expect(client.position(ROOM)).toEqual(at(9, 2));
    client.close();
  });
});
