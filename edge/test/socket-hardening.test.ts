// Hardening of the socket tier (issue 12): one send budget per user whatever the transport,
// a cap on sockets per user, ended sessions refused everywhere within seconds, and a frame
// limit that fits every valid message, with a proper 1009 close above it.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { FRAME_TOO_LARGE, LiveClient, LiveError, type WebSocketConstructor, type WebSocketLike } from "@parley/client";
import { asUser, ConfigError, createBroker, createLogger } from "@parley/kit";
import { TEST_REDIS_URL } from "@parley/kit/testing";
import { startTestEdge, startTestSocket, type TestEdge } from "./harness.js";
import { RawSocket } from "./sockets.js";

const PASSWORD = "correct horse battery staple";
const quiet = { LOG_LEVEL: process.env.SOCKET_LOG_LEVEL ?? "silent" };

let edge: TestEdge;
let socket: Awaited<ReturnType<typeof startTestSocket>>;
beforeAll(async () => {
  edge = await startTestEdge({ RATE_REGISTER_PER_HOUR: "1000", RATE_LOGIN_PER_MINUTE: "1000" });
  // Frames are not what is limited here: the send budget is.
  socket = await startTestSocket(edge.parley, { SOCKET_FRAMES_PER_SECOND: "1000", ...quiet });
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

/** Messages stored in the room, read from the message service itself. */
async function storedBodies(roomId: string, userId: string): Promise<string[]> {
  const bodies: string[] = [];
  let afterSeq = 0n;
  for (;;) {
    const page = await edge.parley.messages.listMessages({ roomId, cursor: { case: "afterSeq", value: afterSeq }, limit: 100 }, asUser(userId));
    bodies.push(...page.messages.map((m) => m.body));
    if (!page.hasNewer || page.messages.length === 0) return bodies;
    afterSeq = page.messages.at(-1)!.seq;
  }
}

async function login(username: string) {
  const res = await edge.api("POST", "/api/v1/auth/login", { body: { login: username, password: PASSWORD } });
  expect(res.status).toBe(200);
  return res.json as { accessToken: string; refreshToken: string };
}

/** Waits, up to a deadline, until `probe` gives `wanted` (a revocation takes up to a cache lifetime to be seen). */
async function until<T>(probe: () => Promise<T>, wanted: T, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got === wanted || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The HTTP status an upgrade got: 101 when it was accepted (the socket is closed again). */
async function upgradeStatus(url: string, token: string): Promise<number> {
  const ws = new WebSocket(url, ["parley.v1.json", `parley.auth.${token}`]);
  return new Promise((resolve) => {
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on("open", () => {
      resolve(101);
      ws.close();
    });
    ws.on("error", () => resolve(0));
  });
}

const restStatus = async (token: string) => (await edge.api("GET", "/api/v1/users/me", { token })).status;
const trpcCode = (token: string) =>
  edge
    .trpc(token)
    .users.me.query()
    .then(
      () => "OK",
      (error: { data?: { code?: string } }) => error.data?.code ?? "?",
    );

describe("send budget across transports", () => {
  it("stores at most RATE_SEND_PER_10S_USER of 190 sends in one socket burst and refuses the rest with RESOURCE_EXHAUSTED and a retry-after", async () => {
    const alice = await edge.signUp("burst");
    const roomId = await roomOf(alice);
    const ws = await RawSocket.open(socket.url, alice.accessToken);
    for (let i = 0; i < 190; i++) ws.send({ ref: `s${i}`, send: { roomId, clientMsgId: `burst-${i}`, body: `burst ${i}` } });
    const answers = await Promise.all(Array.from({ length: 190 }, (_, i) => ws.next((f) => (f.ack?.ref ?? f.error?.ref) === `s${i}`, 60_000)));
    const acked = answers.filter((f) => f.ack);
    const refused = answers.filter((f) => f.error);
    expect(acked).toHaveLength(50);
    expect(refused).toHaveLength(140);
    for (const { error } of refused) {
      expect(error).toMatchObject({ code: "RESOURCE_EXHAUSTED", roomId });
      expect(error.retryAfterMs).toBeGreaterThan(0);
      expect(error.retryAfterMs).toBeLessThanOrEqual(10_000);
    }
    expect(await storedBodies(roomId, alice.user.id)).toHaveLength(50);
    ws.close();
  }, 120_000);

  it("counts REST and socket sends of one user against one budget", async () => {
    const bob = await edge.signUp("mixed");
    const roomId = await roomOf(bob);
    const ws = await RawSocket.open(socket.url, bob.accessToken);
    // All within one 10-second window: the REST sends at once, then a socket burst.
    const rest = await Promise.all(
      Array.from({ length: 30 }, (_, i) => edge.api("POST", "/api/v1/messages", { token: bob.accessToken, body: { roomId, body: `rest ${i}` } })),
    );
    expect(rest.map((r) => r.status)).toEqual(Array(30).fill(201));
    for (let i = 0; i < 30; i++) ws.send({ ref: `m${i}`, send: { roomId, clientMsgId: `mixed-${i}`, body: `socket ${i}` } });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => ws.next((f) => (f.ack?.ref ?? f.error?.ref) === `m${i}`, 30_000)));
    expect(answers.filter((f) => f.ack)).toHaveLength(20);
    expect(answers.filter((f) => f.error).map((f) => f.error.code)).toEqual(Array(10).fill("RESOURCE_EXHAUSTED"));
    // And the other way round: the socket's sends used up the REST budget too.
    const over = await edge.api("POST", "/api/v1/messages", { token: bob.accessToken, body: { roomId, body: "one too many" } });
    expect(over.status).toBe(429);
    expect(await storedBodies(roomId, bob.user.id)).toHaveLength(50);
    ws.close();
  }, 120_000);
});

describe("sockets per user", () => {
  it("refuses a user's (N+1)th socket with 429 and takes one again after a socket closes", async () => {
    const capped = await startTestSocket(edge.parley, { SOCKET_MAX_PER_USER: "3", ...quiet });
    try {
      const carol = await edge.signUp("cap");
      const dave = await edge.signUp("cap");
      const open = [];
      for (let i = 0; i < 3; i++) open.push(await RawSocket.open(capped.url, carol.accessToken));
      expect(await RawSocket.refusal(capped.url, ["parley.v1.json", `parley.auth.${carol.accessToken}`])).toBe(429);
      // Per user: someone else still gets in.
      const other = await RawSocket.open(capped.url, dave.accessToken);
      open[0]!.close();
      await open[0]!.waitClosed();
      // The node counts the close when it sees it: poll the upgrade until taken.
      expect(await until(() => upgradeStatus(capped.url, carol.accessToken), 101)).toBe(101);
      for (const ws of [...open.slice(1), other]) ws.close();
    } finally {
      await capped.stop();
    }
  });

  it.runIf(TEST_REDIS_URL)("counts a user's sockets across nodes (Redis)", async () => {
    const [a, b] = [
      await startTestSocket(edge.parley, { SOCKET_MAX_PER_USER: "3", NODE_ID: "cap-a", ...quiet }),
      await startTestSocket(edge.parley, { SOCKET_MAX_PER_USER: "3", NODE_ID: "cap-b", ...quiet }),
    ];
    const redis = new Redis(TEST_REDIS_URL!);
    try {
      const erin = await edge.signUp("capx");
      const open = [await RawSocket.open(a.url, erin.accessToken), await RawSocket.open(a.url, erin.accessToken)];
      // Node a records its count with the user's presence; wait for it to be there.
      const key = `${edge.parley.env.REDIS_PREFIX}presence:${erin.user.id}`;
      expect(await until(async () => (await redis.hget(key, "cap-a"))?.split("|")[2], "2")).toBe("2");
      open.push(await RawSocket.open(b.url, erin.accessToken));
      expect(await until(async () => (await redis.hget(key, "cap-b"))?.split("|")[2], "1")).toBe("1");
      for (const node of [a, b]) expect(await RawSocket.refusal(node.url, ["parley.v1.json", `parley.auth.${erin.accessToken}`])).toBe(429);
      for (const ws of open) ws.close();
    } finally {
      redis.disconnect();
      await a.stop();
      await b.stop();
    }
  });
});

describe("ended sessions", () => {
  it("after logout, that session's access token gets 401 at REST and tRPC, cannot open a socket, and its open socket closes with 4003; other sessions keep working", async () => {
    const frank = await edge.signUp("out");
    const other = await login(frank.username);
    const ws = await RawSocket.open(socket.url, frank.accessToken);
    expect(await restStatus(frank.accessToken)).toBe(200);
    const out = await edge.api("POST", "/api/v1/auth/logout", { body: { refreshToken: frank.refreshToken } });
    expect(out.status).toBe(204);
    expect((await ws.waitClosed(5_000)).code).toBe(4003);
    expect(await until(() => restStatus(frank.accessToken), 401)).toBe(401);
    expect(await trpcCode(frank.accessToken)).toBe("UNAUTHORIZED");
    expect(await until(() => upgradeStatus(socket.url, frank.accessToken), 401)).toBe(401);
    // The other session is untouched.
    expect(await restStatus(other.accessToken)).toBe(200);
    (await RawSocket.open(socket.url, other.accessToken)).close();
  });

  it("after logout-all, every session's access token is refused at REST, tRPC and the socket tier", async () => {
    const gina = await edge.signUp("all");
    const second = await login(gina.username);
    const all = await edge.api("POST", "/api/v1/auth/logout-all", { token: second.accessToken });
    expect(all.json).toEqual({ sessionCount: 2 });
    for (const token of [gina.accessToken, second.accessToken]) {
      expect(await until(() => restStatus(token), 401)).toBe(401);
      expect(await trpcCode(token)).toBe("UNAUTHORIZED");
      expect(await until(() => upgradeStatus(socket.url, token), 401)).toBe(401);
    }
    // Signing in again starts a session that works.
    const fresh = await login(gina.username);
    expect(await restStatus(fresh.accessToken)).toBe(200);
  });

  it("DELETE /auth/sessions/:id signs out that one session: its token gets 401 and its socket closes with 4003 at once; the caller's keeps working; another person's session is 404", async () => {
    const ivy = await edge.signUp("revoke");
    const laptop = await login(ivy.username);
    const listed = await edge.api("GET", "/api/v1/auth/sessions", { token: laptop.accessToken });
    const phone = listed.json.sessions.find((s: { current: boolean }) => !s.current);
    expect(listed.json.sessions).toHaveLength(2);
    const phoneSocket = await RawSocket.open(socket.url, ivy.accessToken);
    const laptopSocket = await RawSocket.open(socket.url, laptop.accessToken);
    // Someone else cannot end it, and cannot tell it from a random id.
    const mallory = await edge.signUp("mallory");
    for (const target of [phone.id, "01900000-0000-7000-8000-000000000000"]) {
      const refused = await edge.api("DELETE", `/api/v1/auth/sessions/${target}`, { token: mallory.accessToken });
      expect(refused.status).toBe(404);
      expect(refused.json.error).toMatchObject({ code: "NOT_FOUND", message: "session not found" });
    }
    expect(await restStatus(ivy.accessToken)).toBe(200);
    expect((await edge.api("DELETE", "/api/v1/auth/sessions/42", { token: laptop.accessToken })).status).toBe(400);

    const out = await edge.api("DELETE", `/api/v1/auth/sessions/${phone.id}`, { token: laptop.accessToken });
    expect(out.status).toBe(204);
    expect((await phoneSocket.waitClosed(5_000)).code).toBe(4003);
    expect(await until(() => restStatus(ivy.accessToken), 401)).toBe(401);
    expect(await trpcCode(ivy.accessToken)).toBe("UNAUTHORIZED");
    expect(await until(() => upgradeStatus(socket.url, ivy.accessToken), 401)).toBe(401);
    expect((await edge.api("POST", "/api/v1/auth/refresh", { body: { refreshToken: ivy.refreshToken } })).status).toBe(401);
    // Again: it is gone, so 404.
    expect((await edge.api("DELETE", `/api/v1/auth/sessions/${phone.id}`, { token: laptop.accessToken })).status).toBe(404);
    // The caller's session and socket are untouched: the socket still answers.
    expect(await restStatus(laptop.accessToken)).toBe(200);
    laptopSocket.send({ ref: "p", ping: { nonce: "still-here" } });
    expect(await laptopSocket.next((f) => f.pong)).toMatchObject({ pong: { nonce: "still-here" } });
    laptopSocket.close();
  });

  it("POST /auth/sessions/revoke-others signs out every other session (401, sockets closed with 4003) and keeps the caller's", async () => {
    const jill = await edge.signUp("others");
    const second = await login(jill.username);
    const here = await login(jill.username);
    const sockets = await Promise.all([jill.accessToken, second.accessToken].map((token) => RawSocket.open(socket.url, token)));
    const out = await edge.api("POST", "/api/v1/auth/sessions/revoke-others", { token: here.accessToken });
    expect(out.status).toBe(200);
    expect(out.json).toEqual({ sessionCount: 2 });
    for (const ws of sockets) expect((await ws.waitClosed(5_000)).code).toBe(4003);
    for (const token of [jill.accessToken, second.accessToken]) {
      expect(await until(() => restStatus(token), 401)).toBe(401);
      expect(await until(() => upgradeStatus(socket.url, token), 401)).toBe(401);
    }
    expect(await restStatus(here.accessToken)).toBe(200);
    const left = await edge.api("GET", "/api/v1/auth/sessions", { token: here.accessToken });
    expect(left.json.sessions).toEqual([expect.objectContaining({ current: true })]);
  });

  it("after a refresh token is reused, the session's access tokens (the original and the rotated one) are refused", async () => {
    const hank = await edge.signUp("reuse");
    const rotated = await edge.api("POST", "/api/v1/auth/refresh", { body: { refreshToken: hank.refreshToken } });
    expect(rotated.status).toBe(200);
    expect(await restStatus(hank.accessToken)).toBe(200);
    const ws = await RawSocket.open(socket.url, rotated.json.accessToken);
    const reused = await edge.api("POST", "/api/v1/auth/refresh", { body: { refreshToken: hank.refreshToken } });
    expect(reused.status).toBe(401);
    expect((await ws.waitClosed(5_000)).code).toBe(4003);
    for (const token of [hank.accessToken, rotated.json.accessToken as string]) {
      expect(await until(() => restStatus(token), 401)).toBe(401);
      expect(await until(() => upgradeStatus(socket.url, token), 401)).toBe(401);
    }
  });

  it("closes a socket whose session ended even when its node never heard the event (a broker blip): on its next frame, and by the sweep", async () => {
    const log = createLogger("test", "silent");
    // Nodes on brokers of their own: they hear nothing the services publish.
    const deafBrokers = [createBroker(undefined, log), createBroker(undefined, log)];
    const lazy = await startTestSocket(edge.parley, { SOCKET_SESSION_SWEEP_MS: "600000", ...quiet }, deafBrokers[0]);
    const sweeping = await startTestSocket(edge.parley, { SOCKET_SESSION_SWEEP_MS: "200", ...quiet }, deafBrokers[1]);
    try {
      const ivy = await edge.signUp("deaf");
      const roomId = await roomOf(ivy);
      const [onLazy, onSweeping] = [await RawSocket.open(lazy.url, ivy.accessToken), await RawSocket.open(sweeping.url, ivy.accessToken)];
      expect((await onLazy.request({ ref: "s0", subscribe: { roomId } })).ack).toBeDefined();
      await edge.api("POST", "/api/v1/auth/logout", { body: { refreshToken: ivy.refreshToken } });
      expect((await onSweeping.waitClosed(8_000)).code).toBe(4003);
      // The lazy node refuses the session's next frames once its cached answer is older than the TTL.
      for (let i = 1; !onLazy.closed && i < 80; i++) {
        onLazy.send({ ref: `s${i}`, subscribe: { roomId } });
        await onLazy.next((f) => (f.ack?.ref ?? f.error?.ref) === `s${i}`).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(onLazy.closed?.code).toBe(4003);
    } finally {
      await lazy.stop();
      await sweeping.stop();
      for (const broker of deafBrokers) await broker.close();
    }
  });
});

describe("frame size", () => {
  it("stores and acks a valid message of 2,833 characters (2,800 of them \\u0001) sent over a JSON socket", async () => {
    const jane = await edge.signUp("frame");
    const roomId = await roomOf(jane);
    const body = `${"x".repeat(33)}${"\u0001".repeat(2800)}`;
    const ws = await RawSocket.open(socket.url, jane.accessToken);
    const frame = JSON.stringify({ ref: "big", send: { roomId, clientMsgId: "big-1", body } });
    expect(Buffer.byteLength(frame)).toBeGreaterThan(16 * 1024);
    ws.ws.send(frame);
    const answer = await ws.next((f) => (f.ack?.ref ?? f.error?.ref) === "big");
    expect(answer.ack?.message.body).toBe(body);
    ws.close();
  });

  it("takes the largest valid message with every character JSON-escaped (4,000 astral characters as \\uXXXX pairs)", async () => {
    const kate = await edge.signUp("frame");
    const roomId = await roomOf(kate);
    const escaped = "\\ud83d\\ude00".repeat(4000);
    const frame = `{"ref":"max","send":{"roomId":"${roomId}","clientMsgId":"max-1","body":"${escaped}"}}`;
    expect(Buffer.byteLength(frame)).toBeGreaterThan(48_000);
    const ws = await RawSocket.open(socket.url, kate.accessToken);
    ws.ws.send(frame);
    const answer = await ws.next((f) => (f.ack?.ref ?? f.error?.ref) === "max");
    expect(answer.ack?.message.body).toBe("\u{1F600}".repeat(4000));
    ws.close();
  });

  it("closes a socket that sends a frame over SOCKET_MAX_FRAME_BYTES with 1009 and a reason", async () => {
    const leo = await edge.signUp("frame");
    const ws = await RawSocket.open(socket.url, leo.accessToken);
    const limit = Number(ws.frames.find((f) => f.hello)!.hello.maxFrameBytes);
    expect(limit).toBeGreaterThanOrEqual(50_048);
    ws.ws.send(JSON.stringify({ ref: "huge", send: { roomId: "01900000-0000-7000-8000-000000000000", body: "y".repeat(limit) } }));
    const closed = await ws.waitClosed();
    expect(closed.code).toBe(1009);
    expect(closed.reason).toContain(String(limit));
  });

  it("refuses to start with a SOCKET_MAX_FRAME_BYTES below the largest valid message", async () => {
    const error = await startTestSocket(edge.parley, { SOCKET_MAX_FRAME_BYTES: "16384", ...quiet }).then(
      (node) => node.stop().then(() => undefined),
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain("SOCKET_MAX_FRAME_BYTES");
  });
});

/** A `ws` WebSocket that counts the frames it writes over `bytes`, and can hide the frame limit of the Hello (as an older server would). */
function countingWebSocket(counter: { large: number; bytes: number; exhausted?: number }, hideLimit: boolean): WebSocketConstructor {
  return class implements WebSocketLike {
    private readonly ws: WebSocket;
    onopen: WebSocketLike["onopen"] = null;
    onclose: WebSocketLike["onclose"] = null;
    onerror: WebSocketLike["onerror"] = null;
    onmessage: WebSocketLike["onmessage"] = null;

    constructor(url: string, protocols?: string | string[]) {
      this.ws = new WebSocket(url, protocols);
      this.ws.onopen = (event) => this.onopen?.(event);
      this.ws.onclose = (event) => this.onclose?.({ code: event.code, reason: event.reason });
      this.ws.onerror = (event) => this.onerror?.(event);
      this.ws.onmessage = (event) => {
        const data = hideLimit && typeof event.data === "string" ? event.data.replace(/,"maxFrameBytes":\d+/, "") : event.data;
        if (typeof data === "string" && data.includes('"code":"RESOURCE_EXHAUSTED"')) counter.exhausted = (counter.exhausted ?? 0) + 1;
        this.onmessage?.({ data });
      };
    }

    get binaryType(): string {
      return this.ws.binaryType;
    }
    set binaryType(value: string) {
      this.ws.binaryType = value as WebSocket["binaryType"];
    }
    get readyState(): number {
      return this.ws.readyState;
    }
    send(data: string | Uint8Array): void {
      if ((typeof data === "string" ? Buffer.byteLength(data) : data.byteLength) > counter.bytes) counter.large++;
      this.ws.send(data);
    }
    close(code?: number, reason?: string): void {
      this.ws.close(code, reason);
    }
  };
}

describe("client library and refused sends", () => {
  for (const hideLimit of [false, true]) {
    it(`fails a send too large for a frame once and never resends it, while later sends go through (${hideLimit ? "server closes with 1009" : "limit told in Hello"})`, async () => {
      const mia = await edge.signUp("cli");
      const roomId = await roomOf(mia);
      const counter = { large: 0, bytes: 50_000 };
      const states: string[] = [];
      const client = new LiveClient({
        url: socket.url,
        getToken: async () => mia.accessToken,
        WebSocket: countingWebSocket(counter, hideLimit),
        backoff: { baseMs: 50, maxMs: 200 },
      });
      client.on("state", (s) => states.push(s));
      client.connect();
      try {
        const tooLarge = await client.send(roomId, "z".repeat(70_000)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(tooLarge).toBeInstanceOf(LiveError);
        expect((tooLarge as LiveError).code).toBe(FRAME_TOO_LARGE);
        // A later send is acknowledged (after a reconnect when the server closed the socket).
        const marker = await client.send(roomId, "marker");
        expect(marker.body).toBe("marker");
        expect(counter.large).toBe(hideLimit ? 1 : 0);
        expect(states.filter((s) => s === "reconnecting").length).toBe(hideLimit ? 1 : 0);
        expect(await storedBodies(roomId, mia.user.id)).toEqual(["marker"]);
        // An invalid message (too long, though it fits in a frame) fails and is not retried either.
        const invalid = await client.send(roomId, "w".repeat(4001)).catch((e: LiveError) => e);
        expect((invalid as LiveError).code).toBe("INVALID_ARGUMENT");
        expect((await client.send(roomId, "after")).body).toBe("after");
        expect(await storedBodies(roomId, mia.user.id)).toEqual(["marker", "after"]);
      } finally {
        client.close();
      }
    });
  }

  it("retries a send refused for the send budget after the retry-after it was told, and it is stored once", async () => {
    const ned = await edge.signUp("cli");
    const roomId = await roomOf(ned);
    // Use up the budget over REST, then send through the client: it waits for the window and gets in.
    const rest = await Promise.all(Array.from({ length: 50 }, (_, i) => edge.api("POST", "/api/v1/messages", { token: ned.accessToken, body: { roomId, body: `r${i}` } })));
    expect(rest.map((r) => r.status)).toEqual(Array(50).fill(201));
    const counter = { large: 0, bytes: Infinity, exhausted: 0 };
    const client = new LiveClient({ url: socket.url, getToken: async () => ned.accessToken, WebSocket: countingWebSocket(counter, false), sendTimeoutMs: 30_000 });
    client.connect();
    try {
      const message = await client.send(roomId, "late but once");
      expect(message.body).toBe("late but once");
      // Refused for the budget at first (told when to come back), then taken.
      expect(counter.exhausted).toBeGreaterThanOrEqual(1);
      const bodies = await storedBodies(roomId, ned.user.id);
      expect(bodies.filter((b) => b === "late but once")).toHaveLength(1);
    } finally {
      client.close();
    }
  }, 60_000);
});
