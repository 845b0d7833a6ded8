import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Validator } from "@seriousme/openapi-schema-validator";
import { startTestEdge, type TestEdge } from "./harness.js";

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge({ CORS_ORIGINS: "https://chat.example.com" });
});
afterAll(() => edge?.stop());

const PASSWORD = "correct horse battery staple";

describe("REST auth", () => {
  it("registers (201), logs in by email or username, refreshes, and logs out (204)", async () => {
    const username = `rest_${Date.now().toString(36)}`;
    const reg = await edge.api("POST", "/api/v1/auth/register", {
      body: { email: `${username}@example.com`, username, password: PASSWORD, displayName: "Rest Person" },
    });
    expect(reg.status).toBe(201);
    expect(Object.keys(reg.json).sort()).toEqual(["accessToken", "expiresIn", "refreshToken", "user"]);
    expect(reg.json.user).toMatchObject({ username, displayName: "Rest Person", email: `${username}@example.com` });
    expect(JSON.stringify(reg.json)).not.toMatch(/password|hash/i);
    expect(reg.json.expiresIn).toBe(900);

    for (const login of [`${username}@example.com`, username.toUpperCase()]) {
      const res = await edge.api("POST", "/api/v1/auth/login", { body: { login, password: PASSWORD } });
      expect(res.status, login).toBe(200);
      expect(res.json.user.id).toBe(reg.json.user.id);
    }
    const refreshed = await edge.api("POST", "/api/v1/auth/refresh", { body: { refreshToken: reg.json.refreshToken } });
    expect(refreshed.status).toBe(200);
    const out = await edge.api("POST", "/api/v1/auth/logout", { body: { refreshToken: refreshed.json.refreshToken } });
    expect(out.status).toBe(204);
    const dead = await edge.api("POST", "/api/v1/auth/refresh", { body: { refreshToken: refreshed.json.refreshToken } });
    expect(dead.status).toBe(401);
    expect(dead.json.error.code).toBe("UNAUTHORIZED");
  });

  it("answers bad input with 400 naming the field: missing, extra, mistyped, malformed JSON", async () => {
    const cases: [unknown, RegExp][] = [
      [{ username: "abc_def", password: PASSWORD }, /^email: /],
      [{ email: "x@example.com", username: "abc_def", password: PASSWORD, isAdmin: true }, /unknown field\(s\): isAdmin/],
      [{ email: "x@example.com", username: 12345, password: PASSWORD }, /^username: /],
      [{ email: "not-an-email", username: "abc_def", password: PASSWORD }, /^email: must be a valid email/],
      [{ email: "x@example.com", username: "a b", password: PASSWORD }, /^username: 3-32 letters/],
      [{ email: "x@example.com", username: "abc_def", password: "" }, /^password: /],
      [[1, 2, 3], /JSON object/],
    ];
    for (const [body, message] of cases) {
      const res = await edge.api("POST", "/api/v1/auth/register", { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe("BAD_REQUEST");
      expect(res.json.error.message).toMatch(message);
    }
    const malformed = await edge.api("POST", "/api/v1/auth/login", { raw: '{"login": "x", ', headers: { "content-type": "application/json" } });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error.message).toMatch(/not valid JSON/);
    const short = await edge.api("POST", "/api/v1/auth/register", { body: { email: "y@example.com", username: "short_pw", password: "short" } });
    expect(short.status).toBe(400);
    expect(short.json.error).toMatchObject({ field: "password" });
  });

  it("refuses bodies over the limit with 413 and non-JSON bodies with 415", async () => {
    const huge = await edge.api("POST", "/api/v1/auth/login", { body: { login: "x", password: "y".repeat(200_000) } });
    expect(huge.status).toBe(413);
    expect(huge.json.error.code).toBe("PAYLOAD_TOO_LARGE");
    const form = await edge.api("POST", "/api/v1/auth/login", { raw: "login=x&password=y", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(form.status).toBe(415);
  });

  it("gives 409 for a taken username (any case) or email, naming the field", async () => {
    const first = await edge.signUp("dup");
    const name = await edge.api("POST", "/api/v1/auth/register", {
      body: { email: `other_${first.username}@example.com`, username: first.username.toUpperCase(), password: PASSWORD },
    });
    expect(name.status).toBe(409);
    expect(name.json.error).toMatchObject({ code: "CONFLICT", field: "username" });
    const email = await edge.api("POST", "/api/v1/auth/register", {
      body: { email: `${first.username}@example.com`, username: `x${first.username}`.slice(0, 32), password: PASSWORD },
    });
    expect(email.status).toBe(409);
    expect(email.json.error.field).toBe("email");
  });

  it("gives the same 401 for a wrong password and an unknown account", async () => {
    const account = await edge.signUp("pw");
    const wrong = await edge.api("POST", "/api/v1/auth/login", { body: { login: account.username, password: "wrong wrong wrong" } });
    const unknown = await edge.api("POST", "/api/v1/auth/login", { body: { login: "nobody_at_all", password: "wrong wrong wrong" } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.json).toEqual(wrong.json);
  });

  it("lists sessions and logs out everywhere", async () => {
    const account = await edge.signUp("sess");
    await edge.api("POST", "/api/v1/auth/login", { body: { login: account.username, password: PASSWORD } });
    const sessions = await edge.api("GET", "/api/v1/auth/sessions", { token: account.accessToken });
    expect(sessions.status).toBe(200);
    expect(sessions.json.sessions).toHaveLength(2);
    expect(sessions.json.sessions.filter((s: { current: boolean }) => s.current)).toHaveLength(1);
    const all = await edge.api("POST", "/api/v1/auth/logout-all", { token: account.accessToken });
    expect(all.json).toEqual({ sessionCount: 2 });
    expect((await edge.api("POST", "/api/v1/auth/refresh", { body: { refreshToken: account.refreshToken } })).status).toBe(401);
  });
});

describe("access tokens at the edge", () => {
  it("answers 401 for missing, garbage, alg:none and tampered tokens", async () => {
    const account = await edge.signUp("tok");
    const [h, p, s] = account.accessToken.split(".");
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const payload = JSON.parse(Buffer.from(p!, "base64url").toString());
    const tokens = [
      undefined,
      "garbage",
      account.refreshToken,
      `${b64({ alg: "none", typ: "at+jwt" })}.${p}.`,
      `${h}.${b64({ ...payload, sub: "00000000-0000-7000-8000-000000000000" })}.${s}`,
    ];
    for (const token of tokens) {
      const res = await edge.api("GET", "/api/v1/users/me", { token });
      expect(res.status, String(token)).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(res.json.error.code).toBe("UNAUTHORIZED");
    }
    expect((await edge.api("GET", "/api/v1/users/me", { token: account.accessToken })).status).toBe(200);
  });
});

describe("REST users", () => {
  it("shows your email to you only, and never a password hash", async () => {
    const alice = await edge.signUp("alice");
    const bob = await edge.signUp("bob");
    const me = await edge.api("GET", "/api/v1/users/me", { token: alice.accessToken });
    expect(me.json.email).toBe(`${alice.username}@example.com`);
    const seen = await edge.api("GET", `/api/v1/users/${alice.user.id}`, { token: bob.accessToken });
    expect(seen.status).toBe(200);
    expect(seen.json.email).toBeUndefined();
    const search = await edge.api("GET", `/api/v1/users/search?q=${alice.username}&limit=5`, { token: bob.accessToken });
    expect(search.json.users.map((u: { id: string }) => u.id)).toContain(alice.user.id);
    expect(JSON.stringify(search.json)).not.toMatch(/@example\.com|hash/);
  });

  it("updates only your own editable fields", async () => {
    const alice = await edge.signUp("upd");
    const res = await edge.api("PUT", "/api/v1/users/me", {
      token: alice.accessToken,
      body: { displayName: "Alice A.", statusText: "on holiday" },
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ displayName: "Alice A.", statusText: "on holiday", username: alice.username });
    const sneaky = await edge.api("PUT", "/api/v1/users/me", { token: alice.accessToken, body: { username: "root" } });
    expect(sneaky.status).toBe(400);
    const badUrl = await edge.api("PUT", "/api/v1/users/me", { token: alice.accessToken, body: { avatarUrl: "javascript:alert(1)" } });
    expect(badUrl.status).toBe(400);
    expect(badUrl.json.error.message).toMatch(/^avatarUrl: /);
  });

  it("gives 400 for a malformed id and a bad query, 404 for an unknown user or endpoint", async () => {
    const alice = await edge.signUp("q");
    expect((await edge.api("GET", "/api/v1/users/not-a-uuid", { token: alice.accessToken })).status).toBe(400);
    expect((await edge.api("GET", "/api/v1/users/search?q=&limit=5", { token: alice.accessToken })).status).toBe(400);
    expect((await edge.api("GET", "/api/v1/users/search?q=a&limit=lots", { token: alice.accessToken })).status).toBe(400);
    expect((await edge.api("GET", "/api/v1/users/01900000-0000-7000-8000-000000000000", { token: alice.accessToken })).status).toBe(404);
    const nowhere = await edge.api("GET", "/api/v1/nowhere", { token: alice.accessToken });
    expect(nowhere.status).toBe(404);
    expect(nowhere.json.error.code).toBe("NOT_FOUND");
    expect((await edge.api("DELETE", "/api/v1/users/me", { token: alice.accessToken })).status).toBe(405);
  });
});

describe("around the API", () => {
  it("sets security headers and enforces the CORS allow-list", async () => {
    const res = await fetch(`${edge.base}/api/v1/openapi.json`, { headers: { origin: "https://chat.example.com" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("https://chat.example.com");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const evil = await fetch(`${edge.base}/api/v1/users/me`, { headers: { origin: "https://evil.example" } });
    expect(evil.status).toBe(403);
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await fetch(`${edge.base}/trpc/users.me`, {
      method: "OPTIONS",
      headers: { origin: "https://chat.example.com", "access-control-request-method": "GET" },
    });
    expect(preflight.status).toBe(204);
    const page = await fetch(`${edge.base}/`);
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
  });

  it("publishes a valid OpenAPI 3.1 document covering every REST endpoint", async () => {
    const res = await edge.api("GET", "/api/v1/openapi.json");
    const validator = new Validator();
    const result = await validator.validate(res.json);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const paths = Object.keys(res.json.paths);
    for (const path of [
      "/api/v1/auth/register",
      "/api/v1/auth/login",
      "/api/v1/auth/refresh",
      "/api/v1/auth/logout",
      "/api/v1/users/me",
      "/api/v1/users/search",
      "/api/v1/rooms",
      "/api/v1/rooms/{id}/join",
      "/api/v1/rooms/{id}/members",
      "/api/v1/messages/{roomId}",
      "/api/v1/messages",
      "/api/v1/messages/{id}",
      "/api/v1/search",
    ]) {
      expect(paths).toContain(path);
    }
    expect(res.json.paths["/api/v1/auth/register"].post.responses["201"]).toBeDefined();
    expect(res.json.paths["/api/v1/messages/{id}"].delete.responses["204"]).toBeDefined();
  });

  it("rate limits logins per client address with 429 and Retry-After", async () => {
    // A second edge on the same services, trusting one proxy hop so this test has an address of its own.
    const limited = await startTestEdge({ RATE_LOGIN_PER_MINUTE: "3", TRUST_PROXY: "1" }, edge);
    const from = { "x-forwarded-for": `198.51.100.${1 + Math.floor(Math.random() * 250)}` };
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        statuses.push((await limited.api("POST", "/api/v1/auth/login", { body: { login: "someone", password: "whatever pw" }, headers: from })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
      const res = await limited.api("POST", "/api/v1/auth/login", { body: { login: "someone", password: "whatever pw" }, headers: from });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(res.json.error.code).toBe("TOO_MANY_REQUESTS");
    } finally {
      await limited.stop();
    }
  });
});

describe("tRPC", () => {
  it("serves the same procedures with end-to-end types", async () => {
    const username = `trpc_${Date.now().toString(36)}`;
    const registered = await edge.trpc().auth.register.mutate({ email: `${username}@example.com`, username, password: PASSWORD });
    expect(registered.user.username).toBe(username);
    const me = await edge.trpc(registered.accessToken).users.me.query();
    expect(me.email).toBe(`${username}@example.com`);
  });

  it("maps errors to tRPC codes with the field, and rejects unknown input fields", async () => {
    const anonymous = await edge.trpc().users.me.query().catch((e: any) => e);
    expect(anonymous.data.code).toBe("UNAUTHORIZED");
    expect(anonymous.data.httpStatus).toBe(401);
    const extra = await edge
      .trpc()
      .auth.login.mutate({ login: "x", password: "y", extra: 1 } as never)
      .catch((e: any) => e);
    expect(extra.data.code).toBe("BAD_REQUEST");
    expect(extra.message).toMatch(/unknown field\(s\): extra/);
  });
});
