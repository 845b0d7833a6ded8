// The protocol as written (issue 15): what a client written only from the README and
// socket.proto relies on: invalid UTF-8 fails only that connection, an Error answering a frame
// that failed to decode echoes its ref when it can be read, unknown fields are ignored in both
// encodings, typing and readMarker reach the socket that sent them.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ClientFrameSchema, ServerFrameSchema, type ServerFrame } from "@parley/proto/socket/v1/socket_pb";
import { decodeClientFrame, FrameError } from "../src/socket/protocol.js";
import { startTestEdge, startTestSocket, type TestEdge } from "./harness.js";
import { RawSocket } from "./sockets.js";

let edge: TestEdge;
let socket: Awaited<ReturnType<typeof startTestSocket>>;
beforeAll(async () => {
  edge = await startTestEdge({ RATE_REGISTER_PER_HOUR: "1000" });
  socket = await startTestSocket(edge.parley, { SOCKET_FRAMES_PER_SECOND: "1000", LOG_LEVEL: process.env.SOCKET_LOG_LEVEL ?? "silent" });
});
afterAll(async () => {
  await socket?.stop();
  await edge?.stop();
});

async function roomOf(owner: { accessToken: string }): Promise<string> {
  const room = await edge.api("POST", "/api/v1/rooms", { token: owner.accessToken, body: { name: `room ${Date.now()}`, visibility: "private" } });
  expect(room.status).toBe(201);
  return room.json.id as string;
}

/** A socket speaking parley.v1.proto: binary frames both ways. */
async function protoSocket(token: string) {
  const ws = new WebSocket(socket.url, ["parley.v1.proto", `parley.auth.${token}`]);
  const frames: ServerFrame[] = [];
  let wake: () => void = () => undefined;
  ws.on("message", (data: Buffer) => {
    frames.push(fromBinary(ServerFrameSchema, new Uint8Array(data)));
    wake();
  });
  await once(ws, "open");
  const next = async (match: (f: ServerFrame) => boolean) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = frames.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error("timed out waiting for a binary frame");
      // Woken by the next frame; the timer only ends the wait at the deadline.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  return { ws, frames, next };
}

const errorOf = (f: ServerFrame) => (f.frame.case === "error" ? f.frame.value : undefined);

describe("invalid UTF-8 in a text frame", () => {
  it("fails only that connection (1007 from the socket tier, 1006 where uWebSockets.js drops it first) while the node keeps serving other sockets", async () => {
    const alice = await edge.signUp("u8");
    const other = await RawSocket.open(socket.url, alice.accessToken);
    const bad = await RawSocket.open(socket.url, alice.accessToken);
    bad.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    const closed = await bad.waitClosed();
    // The native bindings check UTF-8 before the frame reaches Parley and drop the TCP connection
    // (socket.proto: CLOSE_CODE_INVALID_PAYLOAD); the socket tier's own check closes with 1007.
    expect([1006, 1007]).toContain(closed.code);
    other.send({ ref: "p", ping: { nonce: "still here" } });
    expect((await other.next((f) => f.pong)).pong.nonce).toBe("still here");
    const fresh = await RawSocket.open(socket.url, alice.accessToken);
    fresh.send({ ref: "p2", ping: { nonce: "new" } });
    expect((await fresh.next((f) => f.pong)).pong.nonce).toBe("new");
    other.close();
    fresh.close();
  });

  it("is told apart by the socket tier's decoder, which asks for the 1007 close instead of an Error frame", () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]);
    let thrown: unknown;
    try {
      decodeClientFrame(bytes.buffer, false, "json");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(FrameError);
    expect((thrown as FrameError).invalidUtf8).toBe(true);
  });
});

describe("an Error answering a frame that failed to decode", () => {
  it("echoes the ref of a JSON frame that parsed (wrong type, int64 out of range, unknown command), and is empty when ref cannot be read", async () => {
    const alice = await edge.signUp("ref");
    const ws = await RawSocket.open(socket.url, alice.accessToken);
    const roomId = await roomOf(alice);
    const cases: [string, string][] = [
      [JSON.stringify({ ref: "wrong-type", subscribe: { roomId: 42 } }), "wrong-type"],
      [JSON.stringify({ ref: "int64", markRead: { roomId, seq: "99999999999999999999" } }), "int64"],
      [JSON.stringify({ ref: "not-a-command", launchMissiles: {} }), "not-a-command"],
      [JSON.stringify({ ref: "two-commands", ping: {}, typing: { roomId } }), "two-commands"],
    ];
    for (const [text, ref] of cases) {
      const before = ws.frames.length;
      ws.ws.send(text);
      const { error } = await ws.next((f) => f.error, 5_000, before);
      expect(error.ref, text).toBe(ref);
      expect(error.code).toBe("INVALID_ARGUMENT");
    }
    // No readable ref: not JSON, ref not a string, not an object. Each answered with an empty ref.
    for (const text of ["not json", JSON.stringify({ ref: 7, ping: {} }), JSON.stringify([1, 2])]) {
      const before = ws.frames.length;
      ws.ws.send(text);
      const { error } = await ws.next((f) => f.error, 5_000, before);
      expect(error.ref ?? "", text).toBe("");
    }
    ws.close();
  });

  it("echoes the ref of a binary frame when field 1 is readable before the broken part, and is empty otherwise", async () => {
    const alice = await edge.signUp("bref");
    const ws = await protoSocket(alice.accessToken);
    await ws.next((f) => f.frame.case === "hello");
    // ref "b1" (field 1), then field 10 (subscribe) announcing 50 bytes that never come.
    ws.ws.send(Buffer.from([0x0a, 0x02, 0x62, 0x31, 0x52, 0x32, 0x01]), { binary: true });
    expect((await ws.next((f) => errorOf(f)?.ref === "b1")).frame.value).toMatchObject({ code: "INVALID_ARGUMENT" });
    // Unreadable from the first byte: answered with an empty ref.
    const before = ws.frames.length;
    ws.ws.send(Buffer.from([0xff, 0xff, 0xff]), { binary: true });
    const error = errorOf(await ws.next((f) => ws.frames.indexOf(f) >= before && f.frame.case === "error"));
    expect(error?.ref).toBe("");
    ws.ws.close();
  });
});

describe("forward compatibility: unknown fields are ignored in both encodings", () => {
  it("serves a JSON frame with fields this server does not know, at the top and inside the command", async () => {
    const alice = await edge.signUp("fwd");
    const ws = await RawSocket.open(socket.url, alice.accessToken);
    const roomId = await roomOf(alice);
    ws.send({ ref: "p", ping: { nonce: "n", fromTheFuture: 1 }, priority: "high" });
    expect((await ws.next((f) => f.pong)).pong.nonce).toBe("n");
    const ack = await ws.request({ ref: "s", subscribe: { roomId, futureOption: true } });
    expect(ack.ack?.ref).toBe("s");
    ws.close();
  });

  it("serves a binary frame with fields this server does not know", async () => {
    const alice = await edge.signUp("fwdb");
    const ws = await protoSocket(alice.accessToken);
    const known = toBinary(ClientFrameSchema, create(ClientFrameSchema, { ref: "bp", frame: { case: "ping", value: { nonce: "nb" } } }));
    // Field 99 (a string) that this server does not know, appended.
    const frame = Buffer.concat([Buffer.from(known), Buffer.from([0x9a, 0x06, 0x01, 0x78])]);
    ws.ws.send(frame, { binary: true });
    const pong = await ws.next((f) => f.frame.case === "pong");
    expect(pong.frame.value).toMatchObject({ nonce: "nb" });
    ws.ws.close();
  });
});

describe("what the server sends back to the socket that asked", () => {
  it("refuses typing before subscribing (FAILED_PRECONDITION, with the ref), then echoes typing to its sender", async () => {
    const alice = await edge.signUp("typ");
    const ws = await RawSocket.open(socket.url, alice.accessToken);
    const roomId = await roomOf(alice);
    const refused = await ws.request({ ref: "t0", typing: { roomId } });
    expect(refused.error).toMatchObject({ ref: "t0", code: "FAILED_PRECONDITION" });
    await ws.request({ ref: "s", subscribe: { roomId } });
    ws.send({ ref: "t1", typing: { roomId } });
    expect((await ws.next((f) => f.typing)).typing).toEqual({ roomId, userId: alice.user.id });
    ws.close();
  });

  it("sends readMarker to the socket that sent markRead, besides the ack", async () => {
    const alice = await edge.signUp("rm");
    const ws = await RawSocket.open(socket.url, alice.accessToken);
    const roomId = await roomOf(alice);
    await ws.request({ ref: "s", subscribe: { roomId } });
    const sent = await ws.request({ ref: "m", send: { roomId, clientMsgId: "c-1", body: "hi" } });
    const seq = sent.ack.message.seq as string;
    const ack = await ws.request({ ref: "r", markRead: { roomId, seq } });
    expect(ack.ack.lastReadSeq).toBe(seq);
    expect((await ws.next((f) => f.readMarker)).readMarker).toEqual({ roomId, lastReadSeq: seq });
    ws.close();
  });
});
