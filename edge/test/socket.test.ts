import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { LiveClient, type Message } from "@parley/client";
import { startTestEdge, startTestSocket, type TestEdge } from "./harness.js";
import { RawSocket, waitFor } from "./sockets.js";

let edge: TestEdge;
let socket: Awaited<ReturnType<typeof startTestSocket>>;
beforeAll(async () => {
  edge = await startTestEdge({ RATE_REGISTER_PER_HOUR: "1000" });
  // Some tests send hundreds of messages from one user: the send budget is not what they test.
  socket = await startTestSocket(edge.parley, { SOCKET_SLOW_CONSUMER_BYTES: String(256 * 1024), SOCKET_FRAMES_PER_SECOND: "1000", RATE_SEND_PER_10S_USER: "100000", LOG_LEVEL: process.env.SOCKET_LOG_LEVEL ?? "silent" });
});
afterAll(async () => {
  await socket?.stop();
  await edge?.stop();
});

async function roomWith(owner: { accessToken: string }, visibility: "public" | "private", ...members: { accessToken: string; user: { id: string } }[]) {
  const room = await edge.api("POST", "/api/v1/rooms", { token: owner.accessToken, body: { name: `room ${Date.now()}`, visibility } });
  expect(room.status).toBe(201);
  for (const member of members) {
    const added = await edge.api("POST", `/api/v1/rooms/${room.json.id}/members`, { token: owner.accessToken, body: { userId: member.user.id } });
    expect(added.status).toBe(201);
  }
  return room.json.id as string;
}

const seqs = (messages: { seq?: string }[]) => messages.map((m) => Number(m.seq));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("upgrade authentication", () => {
  it("refuses missing, garbage, forged and alg:none tokens with 401 before upgrading", async () => {
    const alice = await edge.signUp("ws");
    const [h, p] = alice.accessToken.split(".");
    const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url")}.${p}.`;
    const forged = `${h}.${p}.${Buffer.alloc(64, 7).toString("base64url")}`;
    for (const protocols of [["parley.v1.json"], ["parley.v1.json", "parley.auth.garbage"], ["parley.v1.json", `parley.auth.${none}`], ["parley.v1.json", `parley.auth.${forged}`]]) {
      expect(await RawSocket.refusal(socket.url, protocols)).toBe(401);
    }
    // The token may also come as a query parameter; a foreign Origin is refused.
    const viaQuery = new WebSocket(`${socket.url}?token=${alice.accessToken}`, ["parley.v1.json"]);
    await new Promise((resolve, reject) => {
      viaQuery.on("open", resolve);
      viaQuery.on("error", reject);
    });
    viaQuery.close();
    expect(await RawSocket.refusal(socket.url, ["parley.v1.json", `parley.auth.${alice.accessToken}`], "https://evil.example")).toBe(403);
  });
});

describe("rooms over the socket", () => {
  it("refuses a room you are not in, with NOT_FOUND and no events", async () => {
    const owner = await edge.signUp("own");
    const stranger = await edge.signUp("str");
    const roomId = await roomWith(owner, "private");
    const ws = await RawSocket.open(socket.url, stranger.accessToken);
    const answer = await ws.request({ ref: "s1", subscribe: { roomId, afterSeq: "0" } });
    expect(answer.error).toMatchObject({ ref: "s1", code: "NOT_FOUND" });
    // The owner's socket on the same node gets the message: the node has fanned it out.
    const own = await RawSocket.open(socket.url, owner.accessToken);
    await own.request({ ref: "o", subscribe: { roomId, afterSeq: "0" } });
    await edge.api("POST", "/api/v1/messages", { token: owner.accessToken, body: { roomId, body: "secret" } });
    await own.next((f) => f.messageCreated?.message.body === "secret");
    await ws.roundTrip();
    expect(ws.messages()).toEqual([]);
    own.close();
    const nowhere = await ws.request({ ref: "s2", subscribe: { roomId: "01900000-0000-7000-8000-000000000000" } });
    expect(nowhere.error).toMatchObject({ code: "NOT_FOUND", message: answer.error.message });
    ws.close();
  });

  it("lets two members exchange messages with acks, both ways, live", async () => {
    const alice = await edge.signUp("a");
    const bob = await edge.signUp("b");
    const roomId = await roomWith(alice, "private", bob);
    const [wa, wb] = [await RawSocket.open(socket.url, alice.accessToken), await RawSocket.open(socket.url, bob.accessToken)];
    for (const ws of [wa, wb]) {
      expect((await ws.request({ ref: "sub", subscribe: { roomId, afterSeq: "0" } })).ack).toBeDefined();
    }
    const ackA = await wa.request({ ref: "1", send: { roomId, clientMsgId: "a-1", body: "hi bob" } });
    expect(ackA.ack.message).toMatchObject({ roomId, seq: "1", body: "hi bob", clientMsgId: "a-1" });
    const ackB = await wb.request({ ref: "2", send: { roomId, clientMsgId: "b-1", body: "hi alice" } });
    expect(ackB.ack.message.seq).toBe("2");
    for (const ws of [wa, wb]) {
      await ws.next((f) => f.messageCreated?.message.seq === "2");
      expect(seqs(ws.messages(roomId))).toEqual([1, 2]);
    }
    wa.close();
    wb.close();
  });

  it("replays exactly what a client missed, in order, once, then goes live", async () => {
    const alice = await edge.signUp("rp");
    const bob = await edge.signUp("rq");
    const roomId = await roomWith(alice, "private", bob);
    const wb = await RawSocket.open(socket.url, bob.accessToken);
    await wb.request({ ref: "sub", subscribe: { roomId, afterSeq: "0" } });
    const sender = await RawSocket.open(socket.url, alice.accessToken);
    await sender.request({ ref: "s", subscribe: { roomId, afterSeq: "0" } });
    await sender.request({ ref: "m0", send: { roomId, clientMsgId: "m0", body: "before" } });
    await wb.next((f) => f.messageCreated?.message.seq === "1");
    wb.close(); // Bob goes away...

    const sends = [];
    for (let i = 1; i <= 100; i++) sends.push(sender.request({ ref: `m${i}`, send: { roomId, clientMsgId: `m${i}`, body: `message ${i}` } }, 30_000));
    // ...and comes back while the sends are still going.
    await new Promise((r) => setTimeout(r, 50));
    const back = await RawSocket.open(socket.url, bob.accessToken);
    await back.request({ ref: "sub", subscribe: { roomId, afterSeq: "1" } });
    for (const answer of await Promise.all(sends)) expect(answer.ack).toBeDefined();
    await back.next((f) => f.messageCreated?.message.seq === "101", 30_000);
    const received = back.messages(roomId);
    expect(seqs(received)).toEqual(range(2, 101));
    // Concurrent sends take seqs in commit order: every one arrives once, whatever its place.
    expect(received.map((m) => m.body).sort()).toEqual(range(1, 100).map((i) => `message ${i}`).sort());
    const live = back.frames.findIndex((f) => f.live);
    expect(live).toBeGreaterThan(-1);
    back.close();
    sender.close();
  });

  it("answers a retried send with the original message: one message, one seq", async () => {
    const alice = await edge.signUp("rt");
    const roomId = await roomWith(alice, "private");
    const ws = await RawSocket.open(socket.url, alice.accessToken);
    await ws.request({ ref: "sub", subscribe: { roomId, afterSeq: "0" } });
    const [first, second] = await Promise.all([
      ws.request({ ref: "x1", send: { roomId, clientMsgId: "same-id", body: "once" } }),
      ws.request({ ref: "x2", send: { roomId, clientMsgId: "same-id", body: "once" } }),
    ]);
    const third = await ws.request({ ref: "x3", send: { roomId, clientMsgId: "same-id", body: "once" } });
    expect(new Set([first, second, third].map((f) => f.ack.message.id)).size).toBe(1);
    const history = await edge.api("GET", `/api/v1/messages/${roomId}`, { token: alice.accessToken });
    expect(history.json.messages).toHaveLength(1);
    // A later message marks the end: everything about the first has arrived before it.
    await ws.request({ ref: "x4", send: { roomId, clientMsgId: "other-id", body: "after" } });
    await ws.next((f) => f.messageCreated?.message.seq === "2");
    expect(seqs(ws.messages(roomId))).toEqual([1, 2]);
    ws.close();
  });

  it("stops delivering to a kicked member at once", async () => {
    const owner = await edge.signUp("ko");
    const bob = await edge.signUp("kb");
    const roomId = await roomWith(owner, "private", bob);
    const wb = await RawSocket.open(socket.url, bob.accessToken);
    await wb.request({ ref: "sub", subscribe: { roomId, afterSeq: "0" } });
    await edge.api("POST", "/api/v1/messages", { token: owner.accessToken, body: { roomId, body: "before the kick" } });
    await wb.next((f) => f.messageCreated);
    const own = await RawSocket.open(socket.url, owner.accessToken);
    await own.request({ ref: "o", subscribe: { roomId, afterSeq: "1" } });
    expect((await edge.api("DELETE", `/api/v1/rooms/${roomId}/members/${bob.user.id}`, { token: owner.accessToken })).status).toBe(204);
    await wb.next((f) => f.memberKicked?.userId === bob.user.id);
    await edge.api("POST", "/api/v1/messages", { token: owner.accessToken, body: { roomId, body: "after the kick" } });
    // The owner, on the same node, gets it; Bob, asked after that, has not.
    await own.next((f) => f.messageCreated?.message.body === "after the kick");
    await wb.roundTrip();
    expect(wb.messages(roomId).map((m) => m.body)).toEqual(["before the kick"]);
    own.close();
    const again = await wb.request({ ref: "again", subscribe: { roomId, afterSeq: "0" } });
    expect(again.error?.code).toBe("NOT_FOUND");
    wb.close();
  });
});

describe("bad frames and slow clients", () => {
  it("answers malformed frames with an error frame or a close, and keeps serving", async () => {
    const alice = await edge.signUp("mf");
    const ws = await RawSocket.open(socket.url, alice.accessToken);
    const before = ws.frames.length;
    for (const bad of ["not json", JSON.stringify({ ref: "u", launchMissiles: {} }), JSON.stringify({ ref: "t", subscribe: { roomId: 42 } }), JSON.stringify([1, 2])]) {
      ws.ws.send(bad);
    }
    ws.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    // Frames are answered in order: once the ping after them is answered, every answer to them is in.
    ws.send({ ref: "p", ping: { nonce: "still here" } });
    expect((await ws.next((f) => f.pong?.nonce === "still here", 5000, before)).pong).toBeDefined();
    const errors = ws.frames.slice(before).filter((f) => f.error);
    expect(errors.length).toBe(5);
    expect(errors.every((f) => f.error.code === "INVALID_ARGUMENT")).toBe(true);
    // A frame over the size limit closes that socket only.
    const big = await RawSocket.open(socket.url, alice.accessToken);
    big.ws.send(JSON.stringify({ ref: "big", send: { roomId: "x", body: "y".repeat(64 * 1024) } }));
    const closed = await big.waitClosed();
    expect([1006, 1009]).toContain(closed.code);
    const fine = await RawSocket.open(socket.url, alice.accessToken);
    fine.send({ ref: "p2", ping: { nonce: "n" } });
    expect((await fine.next((f) => f.pong)).pong.nonce).toBe("n");
    ws.close();
    fine.close();
  });

  it("closes a client that stops reading with the slow-consumer code, while a fast one gets everything", async () => {
    const alice = await edge.signUp("fast");
    const slowUser = await edge.signUp("slow");
    const roomId = await roomWith(alice, "private", slowUser);
    const fast = await RawSocket.open(socket.url, alice.accessToken);
    await fast.request({ ref: "sub", subscribe: { roomId, afterSeq: "0" } });
    const slow = await RawSocket.open(socket.url, slowUser.accessToken);
    await slow.request({ ref: "sub", subscribe: { roomId, afterSeq: "0" } });
    // The slow client stops reading from its TCP socket.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    // 12 KB per message (3-byte characters): enough to fill the kernel's socket buffers too.
    const body = "€".repeat(3990);
    const total = 700;
    // The server closing the slow socket shows to the fast one as the slow user going offline.
    // The slow client reads again at once then, so it gets the close frame before the server
    // gives up on the closing handshake (a client that never reads gets no close code at all).
    const slowOffline = (f: { presence?: { userId: string; state: string } }) => f.presence?.userId === slowUser.user.id && f.presence.state === "PRESENCE_STATE_OFFLINE";
    let closedAt = 0;
    for (let i = 1; i <= total; i++) {
      const ack = await fast.request({ ref: `f${i}`, send: { roomId, clientMsgId: `f${i}`, body } }, 60_000);
      expect(ack.ack, `send ${i}`).toBeDefined();
      if (!closedAt && fast.frames.some(slowOffline)) {
        closedAt = i;
        (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      }
    }
    expect(closedAt, "the server closed the slow consumer while the messages went out").toBeGreaterThan(0);
    await fast.next((f) => f.messageCreated?.message.seq === String(total), 60_000);
    expect(seqs(fast.messages(roomId))).toEqual(range(1, total));
    const closed = await slow.waitClosed(60_000);
    expect(closed.code).toBe(4008);
    fast.close();
  }, 240_000);
});

describe("sessions", () => {
  it("closes every socket of a user who logs out everywhere", async () => {
    const alice = await edge.signUp("lo");
    const [one, two] = [await RawSocket.open(socket.url, alice.accessToken), await RawSocket.open(socket.url, alice.accessToken)];
    await edge.api("POST", "/api/v1/auth/logout-all", { token: alice.accessToken });
    for (const ws of [one, two]) expect((await ws.waitClosed(2_000)).code).toBe(4003);
  });
});

describe("client library", () => {
  it("survives a dropped connection: resumes, dedupes by seq, retries sends with the same clientMsgId", async () => {
    const alice = await edge.signUp("lib");
    const bob = await edge.signUp("lic");
    const roomId = await roomWith(alice, "private", bob);
    const client = new LiveClient({
      url: socket.url,
      getToken: async () => bob.accessToken,
      WebSocket: WebSocket as never,
      backoff: { baseMs: 50, maxMs: 200 },
    });
    const got: Message[] = [];
    client.on("message", (m) => got.push(m));
    client.subscribe(roomId, 0n);
    client.connect();
    await waitFor(() => client.connectionState === "live");
    const sender = await RawSocket.open(socket.url, alice.accessToken);
    for (let i = 1; i <= 20; i++) {
      await sender.request({ ref: `a${i}`, send: { roomId, clientMsgId: `a${i}`, body: `a${i}` } });
      if (i === 10) {
        // Cut Bob's connection under him mid-stream.
        (client as unknown as { socket: { close(): void } }).socket.close();
      }
    }
    const mine = await client.send(roomId, "from bob after reconnect", { clientMsgId: "bob-1" });
    const again = await client.send(roomId, "from bob after reconnect", { clientMsgId: "bob-1" });
    expect(again.id).toBe(mine.id);
    await waitFor(() => got.length >= 21);
    expect(got.map((m) => Number(m.seq))).toEqual(range(1, 21));
    client.close();
    sender.close();
  });
});


describe("subscription set-up under load", () => {
  it("queues subscriptions beyond SOCKET_SUBSCRIBE_CONCURRENCY and serves each in full", async () => {
    const narrow = await startTestSocket(edge.parley, { SOCKET_SUBSCRIBE_CONCURRENCY: "1", SOCKET_FRAMES_PER_SECOND: "1000", LOG_LEVEL: "silent" });
    try {
      const owner = await edge.signUp("queue");
      const roomId = await roomWith(owner, "private");
      for (const body of ["one", "two", "three"]) {
        expect((await edge.api("POST", "/api/v1/messages", { token: owner.accessToken, body: { roomId, body } })).status).toBe(201);
      }
      const sockets = await Promise.all(Array.from({ length: 16 }, () => RawSocket.open(narrow.url, owner.accessToken)));
      // One gives up its place in line: it closes right after asking.
      const quitter = sockets.pop()!;
      quitter.send({ ref: "q", subscribe: { roomId, afterSeq: "0" } });
      quitter.close();
      const answers = await Promise.all(sockets.map((ws, i) => ws.request({ ref: `s${i}`, subscribe: { roomId, afterSeq: "0" } }, 30_000)));
      expect(answers.every((a) => a.ack)).toBe(true);
      for (const ws of sockets) expect(seqs(ws.messages(roomId))).toEqual([1, 2, 3]);
      await edge.api("POST", "/api/v1/messages", { token: owner.accessToken, body: { roomId, body: "four" } });
      await Promise.all(sockets.map((ws) => ws.next((f) => f.messageCreated?.message.seq === "4")));
      for (const ws of sockets) {
        expect(seqs(ws.messages(roomId))).toEqual([1, 2, 3, 4]);
        ws.close();
      }
    } finally {
      await narrow.stop();
    }
  });
});

describe("binary protocol", () => {
  it("speaks binary protobuf frames when the client asks for parley.v1.proto", async () => {
    const { create, fromBinary, toBinary } = await import("@bufbuild/protobuf");
    const { ClientFrameSchema, ServerFrameSchema } = await import("@parley/proto/socket/v1/socket_pb");
    const alice = await edge.signUp("bin");
    const roomId = await roomWith(alice, "private");
    const ws = new WebSocket(socket.url, ["parley.v1.proto", `parley.auth.${alice.accessToken}`]);
    const frames: ReturnType<typeof fromBinary<typeof ServerFrameSchema>>[] = [];
    ws.on("message", (data, isBinary) => {
      expect(isBinary).toBe(true);
      frames.push(fromBinary(ServerFrameSchema, new Uint8Array(data as Buffer)));
    });
    await new Promise((resolve) => ws.on("open", resolve));
    expect(ws.protocol).toBe("parley.v1.proto");
    const send = (frame: Parameters<typeof create<typeof ClientFrameSchema>>[1]) => ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, frame)));
    send({ ref: "s", frame: { case: "subscribe", value: { roomId, afterSeq: 0n } } });
    send({ ref: "m", frame: { case: "send", value: { roomId, clientMsgId: "bin-1", body: "in binary" } } });
    await waitFor(() => frames.some((f) => f.frame.case === "messageCreated"));
    const created = frames.find((f) => f.frame.case === "messageCreated")!;
    expect(created.frame.case === "messageCreated" && created.frame.value.message?.body).toBe("in binary");
    expect(frames.some((f) => f.frame.case === "ack" && f.frame.value.ref === "m")).toBe(true);
    // A text frame on a binary socket is refused with an error frame.
    ws.send("{}");
    await waitFor(() => frames.some((f) => f.frame.case === "error"));
    ws.close();
  });

  it("keeps freshly opened sockets open while it shares its process with the services", async () => {
    const { create, fromBinary, toBinary } = await import("@bufbuild/protobuf");
    const { ClientFrameSchema, ServerFrameSchema } = await import("@parley/proto/socket/v1/socket_pb");
    // Regression: this uWS build closed about a third of new binary sockets (1006, no close
    // frame) right after `hello` when the node did its work inside the upgrade's cork.
    const users = await Promise.all(Array.from({ length: 30 }, () => edge.signUp("fresh")));
    const closes: string[] = [];
    const sockets: WebSocket[] = [];
    for (const [i, user] of users.entries()) {
      const ws = new WebSocket(socket.url, [i % 3 ? "parley.v1.proto" : "parley.v1.json", `parley.auth.${user.accessToken}`]);
      ws.on("close", (code) => closes.push(`socket ${i} (${ws.protocol}) closed by the server with ${code}`));
      ws.on("error", () => undefined);
      await new Promise((resolve) => ws.once("message", resolve)); // hello
      sockets.push(ws);
    }
    // Each socket still answers after all are open: none was closed after its hello.
    for (const [i, ws] of sockets.entries()) {
      const nonce = `alive-${i}`;
      const binary = ws.protocol === "parley.v1.proto";
      const answered = new Promise<void>((resolve) =>
        ws.on("message", (data, isBinary) => {
          const frame = isBinary ? fromBinary(ServerFrameSchema, new Uint8Array(data as Buffer)).frame : undefined;
          if (isBinary ? frame?.case === "pong" && frame.value.nonce === nonce : JSON.parse(data.toString()).pong?.nonce === nonce) resolve();
        }),
      );
      ws.send(binary ? toBinary(ClientFrameSchema, create(ClientFrameSchema, { ref: nonce, frame: { case: "ping", value: { nonce } } })) : JSON.stringify({ ref: nonce, ping: { nonce } }));
      await answered;
    }
    expect(closes).toEqual([]);
    for (const ws of sockets) ws.close(1000);
  });
});
