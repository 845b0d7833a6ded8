// The HTTP edge under attack (issue 12): client addresses behind proxies, tRPC batches,
// browser origins, a dying service, bad input that used to be a 500, and small leaks.
import { randomInt } from "node:crypto";
import { request } from "node:http";
import { createServer as createHttp2Server, type Http2Server } from "node:http2";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { createServiceClient, toPublicError } from "@parley/kit";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import { launch } from "../src/launch.js";
import { startTestEdge, startTestSocket, type TestEdge } from "./harness.js";
import { RawSocket } from "./sockets.js";

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge({ RATE_REGISTER_PER_HOUR: "10000" });
});
afterAll(() => edge?.stop());

const PASSWORD = "correct horse battery staple";
/** An address of this run's own, as if our gateway had appended it: limits keyed by it start at zero. */
const gatewayAddress = () => `198.51.${randomInt(0, 255)}.${randomInt(1, 254)}`;

/** An HTTP request with every header under the test's control (fetch will not send a foreign Host). */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function room(token: string): Promise<string> {
  const res = await edge.api("POST", "/api/v1/rooms", { token, body: { name: `hardening ${Date.now()}`, visibility: "public" } });
  expect(res.status).toBe(201);
  return res.json.id;
}

describe("client address behind proxies (TRUST_PROXY, item 3)", () => {
  it("takes the right-most X-Forwarded-For entry behind TRUST_PROXY=1: 40 wrong logins with spoofed left entries meet 429", async () => {
    const proxied = await startTestEdge({ TRUST_PROXY: "1" }, edge);
    const gateway = gatewayAddress();
    try {
      const statuses: number[] = [];
      for (let i = 1; i <= 40; i++) {
        const res = await proxied.api("POST", "/api/v1/auth/login", {
          body: { login: `nobody_${i}`, password: "wrong password" }, // a new account each time: only the address limit applies
          headers: { "x-forwarded-for": `203.0.113.${i}, ${gateway}` },
        });
        statuses.push(res.status);
      }
      expect(statuses).toContain(429);
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(30); // RATE_LOGIN_PER_MINUTE
      expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    } finally {
      await proxied.stop();
    }
  });

  it("counts registrations with spoofed X-Forwarded-For against RATE_REGISTER_PER_HOUR", async () => {
    const proxied = await startTestEdge({ TRUST_PROXY: "1", RATE_REGISTER_PER_HOUR: "3" }, edge);
    const gateway = gatewayAddress();
    try {
      const statuses: number[] = [];
      for (let i = 1; i <= 6; i++) {
        const username = `spoof_${Date.now().toString(36)}_${i}`;
        const res = await proxied.api("POST", "/api/v1/auth/register", {
          body: { email: `${username}@example.com`, username, password: PASSWORD },
          headers: { "x-forwarded-for": `203.0.113.${i}, ${gateway}` },
        });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([201, 201, 201, 429, 429, 429]);
    } finally {
      await proxied.stop();
    }
  });

  it("records the address the trusted proxy saw in the session list, never a spoofed one (hop count or proxy CIDRs)", async () => {
    const account = await edge.signUp("sess");
    for (const trust of ["1", "127.0.0.0/8", "loopback"]) {
      const proxied = await startTestEdge({ TRUST_PROXY: trust }, edge);
      const gateway = gatewayAddress();
      try {
        const login = await proxied.api("POST", "/api/v1/auth/login", {
          body: { login: account.username, password: PASSWORD },
          headers: { "x-forwarded-for": `203.0.113.66, ${gateway}` },
        });
        expect(login.status, trust).toBe(200);
        const sessions = await proxied.api("GET", "/api/v1/auth/sessions", { token: login.json.accessToken });
        const current = sessions.json.sessions.find((s: { current: boolean }) => s.current);
        expect(current.clientAddress, trust).toBe(gateway);
        expect(JSON.stringify(sessions.json)).not.toContain("203.0.113.66");
      } finally {
        await proxied.stop();
      }
    }
  });

  it("refuses TRUST_PROXY=true at boot, naming the variable (true would believe whatever the client writes)", async () => {
    await expect(startTestEdge({ TRUST_PROXY: "true" }, edge)).rejects.toThrow(/TRUST_PROXY: `true` would believe every X-Forwarded-For entry/);
    await expect(startTestEdge({ TRUST_PROXY: "10.0.0.0/99" }, edge)).rejects.toThrow(/TRUST_PROXY: a hop count or a list/);
  });
});

describe("tRPC batches and per-user limits (item 4)", () => {
  let limited: TestEdge;
  beforeAll(async () => {
    limited = await startTestEdge({ RATE_WRITE_PER_10S_USER: "20", RATE_SEARCH_PER_10S_USER: "10" }, edge);
  });
  afterAll(() => limited?.stop());

  /** One HTTP request carrying `count` calls of `path`; the answers, one per call. */
  async function batch(method: "GET" | "POST", path: string, count: number, input: unknown, token: string) {
    const paths = Array.from({ length: count }, () => path).join(",");
    const inputs = JSON.stringify(Object.fromEntries(Array.from({ length: count }, (_, i) => [i, input])));
    const url = `${limited.base}/trpc/${paths}?batch=1${method === "GET" ? `&input=${encodeURIComponent(inputs)}` : ""}`;
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(method === "POST" && { "content-type": "application/json" }) },
      body: method === "POST" ? inputs : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  }

  it("refuses a batch over TRPC_MAX_BATCH_SIZE (25) with 400 and a clear error, before running any call", async () => {
    const alice = await limited.signUp("batch");
    const over = await batch("POST", "rooms.create", 26, { name: "one too many", visibility: "public" }, alice.accessToken);
    expect(over.status).toBe(400);
    expect(JSON.stringify(over.body)).toMatch(/Batch call exceeds maximum size/);
    const rooms = await limited.api("GET", "/api/v1/rooms", { token: alice.accessToken });
    expect(rooms.json.rooms).toHaveLength(0);
    const atCap = await batch("GET", "users.me", 25, undefined, alice.accessToken);
    expect(atCap.status).toBe(200);
    expect(atCap.body).toHaveLength(25);
  });

  it("counts every call of a batch: of 300 batched room creations, those beyond RATE_WRITE_PER_10S_USER get 429", async () => {
    const bob = await limited.signUp("creator");
    const answers: any[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await batch("POST", "rooms.create", 25, { name: `batch room ${i}`, visibility: "public" }, bob.accessToken);
      answers.push(...res.body);
    }
    expect(answers).toHaveLength(300);
    const created = answers.filter((a) => a.result);
    const refused = answers.filter((a) => a.error);
    // Fixed 10 s windows: a run that straddles a window boundary gets at most two windows' worth.
    expect(created.length).toBeGreaterThanOrEqual(20);
    expect(created.length).toBeLessThanOrEqual(40);
    expect(refused.every((a) => a.error.data.httpStatus === 429 && a.error.data.code === "TOO_MANY_REQUESTS")).toBe(true);
    expect(refused[0].error.data.retryAfterSeconds).toBeGreaterThan(0);
  });

  it("limits searches per user, each call of a batch counted, and /healthz still answers", async () => {
    const carol = await limited.signUp("searcher");
    const answers: any[] = [];
    for (let i = 0; i < 3; i++) answers.push(...(await batch("GET", "users.search", 25, { q: "searcher" }, carol.accessToken)).body);
    const done = answers.filter((a) => a.result).length;
    expect(done).toBeGreaterThanOrEqual(10);
    expect(done).toBeLessThanOrEqual(20);
    expect(answers.filter((a) => a.error?.data.httpStatus === 429)).toHaveLength(75 - done);
    // Searches and other reads are separate budgets: the user can still load their rooms.
    expect((await limited.api("GET", "/api/v1/rooms", { token: carol.accessToken })).status).toBe(200);
    expect((await limited.api("GET", "/healthz")).status).toBe(200);
  });
});

describe("browser origins (item 10)", () => {
  it("refuses an Origin equal to a foreign Host (DNS rebinding) and accepts the configured public origins", async () => {
    const port = new URL(edge.base).port;
    const evil = await rawRequest(edge.base, "GET", "/api/v1/users/me", { origin: "http://evil.example", host: "evil.example" });
    expect(evil.status).toBe(403);
    expect(evil.headers["access-control-allow-origin"]).toBeUndefined();
    // Unset PUBLIC_ORIGIN: the edge's own port on this machine, as `npm start` serves the app.
    for (const own of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      const res = await rawRequest(edge.base, "GET", "/api/v1/openapi.json", { origin: own, host: new URL(own).host });
      expect(res.status, own).toBe(200);
      expect(res.headers["access-control-allow-origin"]).toBe(own);
    }
    const configured = await startTestEdge({ PUBLIC_ORIGIN: "https://chat.example.com" }, edge);
    try {
      const ok = await rawRequest(configured.base, "GET", "/api/v1/openapi.json", { origin: "https://chat.example.com", host: "chat.example.com" });
      expect(ok.status).toBe(200);
      const rebound = await rawRequest(configured.base, "GET", "/api/v1/openapi.json", { origin: "https://evil.example", host: "evil.example" });
      expect(rebound.status).toBe(403);
    } finally {
      await configured.stop();
    }
  });

  it("refuses the socket upgrade of an Origin equal to a foreign Host, and accepts PUBLIC_ORIGIN", async () => {
    const alice = await edge.signUp("wsorigin");
    const socket = await startTestSocket(edge.parley, { PUBLIC_ORIGIN: "https://chat.example.com" });
    try {
      const protocols = ["parley.v1.json", `parley.auth.${alice.accessToken}`];
      const { default: WebSocket } = await import("ws");
      const status = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(socket.url, protocols, { origin: "http://evil.example", headers: { host: "evil.example" } });
        ws.on("unexpected-response", (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on("open", () => reject(new Error("the upgrade was accepted")));
        ws.on("error", () => undefined);
      });
      expect(status).toBe(403);
      const ok = await RawSocket.open(socket.url, alice.accessToken, { origin: "https://chat.example.com" });
      ok.ws.close();
    } finally {
      await socket.stop();
    }
  });
});

describe("a dying service (item 11)", () => {
  /** A gRPC port that takes each call and then resets the TCP connection, like a process dying mid-request. */
  async function startDyingService(): Promise<{ address: string; close(): Promise<void> }> {
    const server: Http2Server = createHttp2Server();
    const sockets = new Set<Socket>();
    server.on("connection", (socket: Socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    // The call has arrived (headers sent, maybe the body): the process dies under it.
    server.on("stream", () => {
      for (const socket of sockets) socket.resetAndDestroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
      address: `127.0.0.1:${(server.address() as { port: number }).port}`,
      close: () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    };
  }

  it("answers an in-flight send whose connection is reset with 503 and Retry-After, never 409, and no internal text", async () => {
    const alice = await edge.signUp("dying");
    const roomId = await room(alice.accessToken);
    const dying = await startDyingService();
    const front = await launch({
      env: { ...edge.parley.env, WEB_ROOT: "/nonexistent" },
      port: 0,
      host: "127.0.0.1",
      addresses: { ...edge.parley.addresses, message: dying.address },
    });
    try {
      for (const clientMsgId of ["first", "again"]) {
        const res = await fetch(`http://${front.address}/api/v1/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${alice.accessToken}`, "content-type": "application/json" },
          body: JSON.stringify({ roomId, body: "hello", clientMsgId }),
        });
        const text = await res.text();
        expect(res.status, text).toBe(503);
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
        expect(JSON.parse(text).error).toMatchObject({ code: "SERVICE_UNAVAILABLE", message: "service temporarily unavailable" });
        expect(text).not.toMatch(/ECONNRESET|read |socket|http\/2/i);
      }
    } finally {
      await front.stop();
      await dying.close();
    }
  });

  it("a service passes a downstream call's reset connection on as UNAVAILABLE with a generic text, never ABORTED", async () => {
    const dying = await startDyingService();
    try {
      const downstream = createServiceClient(MessageService, dying.address, { internalAuth: edge.parley.internalAuth });
      const error = await downstream.listMessages({}).then(() => undefined, (e: unknown) => e);
      expect(ConnectError.from(error).code).toBe(Code.Aborted); // connect-node's name for a reset connection
      expect(toPublicError(error)).toMatchObject({ code: Code.Unavailable, message: "service unavailable", internal: true });
    } finally {
      await dying.close();
    }
  });
});

describe("bad input is 400 naming the field, never 500 (item 12)", () => {
  it("refuses NUL in a search query over REST and tRPC", async () => {
    const alice = await edge.signUp("nul");
    const rest = await edge.api("GET", "/api/v1/users/search?q=%00", { token: alice.accessToken });
    expect(rest.status).toBe(400);
    expect(rest.json.error).toMatchObject({ code: "BAD_REQUEST", field: "q", message: "q: must not contain NUL characters" });
    const trpc = await fetch(`${edge.base}/trpc/users.search?input=${encodeURIComponent(JSON.stringify({ q: "a\u0000b" }))}`, {
      headers: { authorization: `Bearer ${alice.accessToken}` },
    });
    expect(trpc.status).toBe(400);
    expect(((await trpc.json()) as any).error).toMatchObject({ message: "q: must not contain NUL characters", data: { field: "q", httpStatus: 400 } });
    const browse = await edge.api("GET", "/api/v1/rooms/public?q=%00", { token: alice.accessToken });
    expect(browse.status).toBe(400);
  });

  it("refuses NUL in a login", async () => {
    const res = await edge.api("POST", "/api/v1/auth/login", { body: { login: "a\u0000", password: "whatever pw" } });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: "BAD_REQUEST", field: "login" });
  });

  it("refuses a malformed percent-escape in a path with 400, with or without a token", async () => {
    const anonymous = await edge.api("GET", "/api/v1/rooms/%ZZ");
    expect(anonymous.status).toBe(400);
    expect(anonymous.json.error).toMatchObject({ code: "BAD_REQUEST", field: "id" });
    const alice = await edge.signUp("pct");
    const signedIn = await edge.api("GET", "/api/v1/rooms/%ZZ/members", { token: alice.accessToken });
    expect(signedIn.status).toBe(400);
    expect((await edge.api("GET", "/api/v1/rooms/%00", { token: alice.accessToken })).status).toBe(400);
  });

  it("each service refuses NUL in any string of a request with INVALID_ARGUMENT naming the field", async () => {
    const error = await edge.parley.users.searchUsers({ query: "x\u0000", pageSize: 5, pageToken: "" }).catch((e) => e);
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe("query: must not contain NUL characters");
    const login = await edge.parley.auth.login({ login: "a\u0000", password: "whatever pw" }).catch((e) => e);
    expect(login.code).toBe(Code.InvalidArgument);
  });
});

describe("small leaks and lax rules (item 14)", () => {
  it("builds /api/v1/config's socketUrl from the configured public origin, never a foreign Host, and says no-store", async () => {
    const evil = await rawRequest(edge.base, "GET", "/api/v1/config", { host: "evil.example" });
    expect(evil.status).toBe(200);
    expect(evil.text).not.toContain("evil.example");
    // With the origin ticket the socket tier checks (socket-origin.ts): for one of the edge's own origins.
    expect(JSON.parse(evil.text).socketUrl).toMatch(/^ws:\/\/(localhost|127\.0\.0\.1):\d+\/ws\?origin_ticket=[\w-]{43}$/);
    expect(evil.headers["cache-control"]).toBe("no-store");
    const configured = await startTestEdge({ PUBLIC_ORIGIN: "https://chat.example.com", SOCKET_PUBLIC_PORT: "" }, edge);
    try {
      const res = await rawRequest(configured.base, "GET", "/api/v1/config", { host: "evil.example" });
      expect(JSON.parse(res.text).socketUrl).toMatch(/^wss:\/\/chat\.example\.com\/ws\?origin_ticket=[\w-]{43}$/);
    } finally {
      await configured.stop();
    }
  });

  it("accepts only application/json bodies: JSON Patch and other +json types get 415", async () => {
    for (const type of ["application/json-patch+json", "application/merge-patch+json", "application/jsonx"]) {
      const res = await edge.api("POST", "/api/v1/auth/login", { raw: JSON.stringify({ login: "x", password: "y" }), headers: { "content-type": type } });
      expect(res.status, type).toBe(415);
    }
    const ok = await edge.api("POST", "/api/v1/auth/login", { raw: JSON.stringify({ login: "nobody_x", password: "whatever pw" }), headers: { "content-type": "Application/JSON; charset=utf-8" } });
    expect(ok.status).toBe(401);
  });

  it("refuses a message of only zero-width or invisible characters with 400 naming body", async () => {
    const alice = await edge.signUp("zw");
    const roomId = await room(alice.accessToken);
    for (const body of ["\u200B\u200C\u200D\uFEFF", "\u2060\u00AD", " \u3164 \u2800 ", "\u202E\u202C"]) {
      const res = await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId, body } });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error).toMatchObject({ code: "BAD_REQUEST", field: "body" });
    }
    const visible = await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId, body: "\u200Bhi\u200B" } });
    expect(visible.status).toBe(201);
  });

  it("refuses a password of only spaces with 400 naming password", async () => {
    const username = `spaces_${Date.now().toString(36)}`;
    for (const password of [" ".repeat(12), "\t \u00A0".repeat(4)]) {
      const res = await edge.api("POST", "/api/v1/auth/register", { body: { email: `${username}@example.com`, username, password } });
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({ code: "BAD_REQUEST", field: "password" });
    }
  });
});
