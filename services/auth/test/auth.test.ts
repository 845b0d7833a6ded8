import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { startTestParley, type TestParley } from "@parley/launch/testing";

let parley: TestParley<"auth">;
beforeAll(async () => {
  parley = await startTestParley({ services: ["auth"], env: { LOGIN_FAILURES_PER_ACCOUNT: "3", LOGIN_FAILURES_PER_ADDRESS: "1000" } });
});
afterAll(() => parley?.stop());

const tag = () => randomBytes(4).toString("hex");
const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (e) => ConnectError.from(e));
const PASSWORD = "correct horse battery staple";

async function register(username = `user_${tag()}`) {
  const email = `${username}@example.com`;
  const response = await parley.auth.register({ email, username, password: PASSWORD, displayName: "" });
  return { ...response, email, username };
}

describe("register, login, refresh, logout", () => {
  it("round-trips: register -> login -> refresh -> logout, and the logged-out token is dead", async () => {
    const account = await register();
    expect(account.user?.username).toBe(account.username);
    expect(account.user?.email).toBe(account.email);
    expect(account.tokens?.accessToken.split(".")).toHaveLength(3);
    expect(account.tokens?.expiresIn).toBe(900);

    const login = await parley.auth.login({ login: account.email.toUpperCase(), password: PASSWORD });
    expect(login.user?.id).toBe(account.user?.id);
    const byName = await parley.auth.login({ login: account.username, password: PASSWORD });
    expect(byName.user?.id).toBe(account.user?.id);

    const refreshed = await parley.auth.refresh({ refreshToken: login.tokens!.refreshToken });
    expect(refreshed.user?.id).toBe(account.user?.id);
    expect(refreshed.tokens!.refreshToken).not.toBe(login.tokens!.refreshToken);

    await parley.auth.logout({ refreshToken: refreshed.tokens!.refreshToken });
    const after = await failure(parley.auth.refresh({ refreshToken: refreshed.tokens!.refreshToken }));
    expect(after?.code).toBe(Code.Unauthenticated);
    // The other sessions (register's, byName's) are untouched.
    await expect(parley.auth.refresh({ refreshToken: byName.tokens!.refreshToken })).resolves.toBeDefined();
  });

  it("revokes the whole session when a rotated refresh token is presented again", async () => {
    const account = await register();
    const first = account.tokens!.refreshToken;
    const second = (await parley.auth.refresh({ refreshToken: first })).tokens!.refreshToken;
    const reuse = await failure(parley.auth.refresh({ refreshToken: first }));
    expect(reuse?.code).toBe(Code.Unauthenticated);
    expect(reuse?.rawMessage).toMatch(/already used/);
    // The thief's copy and the owner's current token are both dead now.
    const current = await failure(parley.auth.refresh({ refreshToken: second }));
    expect(current?.code).toBe(Code.Unauthenticated);
  });

  it("gives the same answer for a wrong password and an unknown account", async () => {
    const account = await register();
    const wrongPassword = await failure(parley.auth.login({ login: account.username, password: "wrong password!" }));
    const unknown = await failure(parley.auth.login({ login: `nobody_${tag()}`, password: "wrong password!" }));
    expect(wrongPassword?.code).toBe(Code.Unauthenticated);
    expect(unknown?.code).toBe(wrongPassword?.code);
    expect(unknown?.rawMessage).toBe(wrongPassword?.rawMessage);
  });

  it("rate limits failed logins per account, even for the right password, with a retry-after", async () => {
    const account = await register();
    for (let i = 0; i < 3; i++) {
      expect((await failure(parley.auth.login({ login: account.username, password: "nope nope nope" })))?.code).toBe(Code.Unauthenticated);
    }
    const limited = await failure(parley.auth.login({ login: account.username, password: PASSWORD }));
    expect(limited?.code).toBe(Code.ResourceExhausted);
    expect(Number(limited?.metadata.get("retry-after-seconds"))).toBeGreaterThan(0);
    // Other accounts are not affected.
    const other = await register();
    await expect(parley.auth.login({ login: other.username, password: PASSWORD })).resolves.toBeDefined();
  });

  it("counts failed logins per account whatever names it: the email or another case of the username is refused after the limit", async () => {
    const account = await register(`Victim_${tag()}`);
    for (let i = 0; i < 3; i++) {
      expect((await failure(parley.auth.login({ login: account.username, password: "nope nope nope" })))?.code).toBe(Code.Unauthenticated);
    }
    for (const login of [account.email, account.email.toUpperCase(), account.username.toLowerCase(), account.username.toUpperCase()]) {
      const refused = await failure(parley.auth.login({ login, password: "nope nope nope" }));
      expect(refused?.code, login).toBe(Code.ResourceExhausted);
      expect((await failure(parley.auth.login({ login, password: PASSWORD })))?.code, login).toBe(Code.ResourceExhausted);
    }
  });

  it("limits an unknown login the same way, by its normalized text", async () => {
    const login = `Ghost_${tag()}`;
    for (let i = 0; i < 3; i++) {
      expect((await failure(parley.auth.login({ login, password: "guess guess" })))?.code).toBe(Code.Unauthenticated);
    }
    expect((await failure(parley.auth.login({ login: ` ${login.toLowerCase()} `, password: "guess guess" })))?.code).toBe(Code.ResourceExhausted);
  });

  it("counts concurrent failed logins atomically: of 40 at once, exactly the limit get a password check", async () => {
    const account = await register();
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        failure(parley.auth.login({ login: i % 2 ? account.username : account.email, password: "nope nope nope" })),
      ),
    );
    const codes = answers.map((e) => e?.code);
    expect(codes.filter((c) => c === Code.Unauthenticated)).toHaveLength(3);
    expect(codes.filter((c) => c === Code.ResourceExhausted)).toHaveLength(37);
    expect((await failure(parley.auth.login({ login: account.username, password: PASSWORD })))?.code).toBe(Code.ResourceExhausted);
  });

  it("rate limits failed logins per client address", async () => {
    const limited = await startTestParley({ services: ["auth"], env: { LOGIN_FAILURES_PER_ADDRESS: "2" } });
    try {
      const from = (address: string) => ({ headers: { "x-client-address": address } });
      for (let i = 0; i < 2; i++) {
        await failure(limited.auth.login({ login: `spray_${i}_${tag()}`, password: "guess guess" }, from("203.0.113.9")));
      }
      const third = await failure(limited.auth.login({ login: `spray_${tag()}`, password: "guess guess" }, from("203.0.113.9")));
      expect(third?.code).toBe(Code.ResourceExhausted);
      const elsewhere = await failure(limited.auth.login({ login: `spray_${tag()}`, password: "guess guess" }, from("198.51.100.7")));
      expect(elsewhere?.code).toBe(Code.Unauthenticated);
    } finally {
      await limited.stop();
    }
  });
});

describe("registration input", () => {
  it("rejects malformed email, empty and oversized passwords with INVALID_ARGUMENT naming the field", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ email: "nope" }, "email"],
      [{ password: "" }, "password"],
      [{ password: "short" }, "password"],
      [{ password: "x".repeat(257) }, "password"],
      [{ password: "x".repeat(2 * 1024 * 1024) }, "password"],
      [{ username: "a b" }, "username"],
    ];
    for (const [override, field] of cases) {
      const request = { email: `${tag()}@example.com`, username: `r_${tag()}`, password: PASSWORD, displayName: "", ...override };
      const error = await failure(parley.auth.register(request));
      expect(error?.code, field).toBe(Code.InvalidArgument);
      expect(error?.metadata.get("parley-field")).toBe(field);
      expect(error?.rawMessage.startsWith(`${field}: `)).toBe(true);
    }
    const hugeLogin = await failure(parley.auth.login({ login: "someone", password: "x".repeat(5000) }));
    expect(hugeLogin?.code).toBe(Code.InvalidArgument);
  });

  it("refuses a taken username in any case or a taken email, and leaves nothing half-made", async () => {
    const first = await register(`Taken_${tag()}`);
    const freshEmail = `fresh_${tag()}@example.com`;
    const dupName = await failure(
      parley.auth.register({ email: freshEmail, username: first.username.toLowerCase(), password: PASSWORD, displayName: "" }),
    );
    expect(dupName?.code).toBe(Code.AlreadyExists);
    expect(dupName?.metadata.get("parley-field")).toBe("username");
    const dupEmail = await failure(
      parley.auth.register({ email: first.email.toUpperCase(), username: `other_${tag()}`, password: PASSWORD, displayName: "" }),
    );
    expect(dupEmail?.code).toBe(Code.AlreadyExists);
    expect(dupEmail?.metadata.get("parley-field")).toBe("email");
    // Nothing of the refused attempt remains: its email is free and cannot log in.
    expect((await failure(parley.auth.login({ login: freshEmail, password: PASSWORD })))?.code).toBe(Code.Unauthenticated);
    const retry = await parley.auth.register({ email: freshEmail, username: `ok_${tag()}`, password: PASSWORD, displayName: "" });
    expect(retry.user?.email).toBe(freshEmail);
  });
});

describe("sessions", () => {
  it("lists the caller's sessions, marks the current one, and logout-all ends them all", async () => {
    const account = await register();
    const userId = account.user!.id;
    const second = await parley.auth.login(
      { login: account.username, password: PASSWORD },
      { headers: { "x-client-user-agent": "Test Browser 1.0", "x-client-address": "192.0.2.1" } },
    );
    const sessionOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).sid as string;
    const currentId = sessionOf(second.tokens!.accessToken);
    const as = { headers: { "x-user-id": userId, "x-session-id": currentId } };
    const { sessions } = await parley.auth.listSessions({}, as);
    expect(sessions).toHaveLength(2);
    const current = sessions.find((s) => s.current)!;
    expect(current.id).toBe(currentId);
    expect(current.userAgent).toBe("Test Browser 1.0");
    expect(current.clientAddress).toBe("192.0.2.1");

    const heard: unknown[] = [];
    await parley.broker.subscribe(`user.${userId}`, (event) => heard.push(event.payload));
    const { sessionCount } = await parley.auth.logoutAll({}, as);
    expect(sessionCount).toBe(2);
    await vi.waitFor(() => expect(heard).toEqual([{ case: "sessionsRevoked", value: expect.objectContaining({ userId }) }]));
    expect((await parley.auth.listSessions({}, as)).sessions).toHaveLength(0);
    for (const token of [account.tokens!.refreshToken, second.tokens!.refreshToken]) {
      expect((await failure(parley.auth.refresh({ refreshToken: token })))?.code).toBe(Code.Unauthenticated);
    }
  });

  it("CheckSessions reports logged-out, reused, unknown and malformed sessions as ended, and publishes each end", async () => {
    const sessionOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).sid as string;
    const account = await register();
    const userId = account.user!.id;
    const active = await parley.auth.login({ login: account.username, password: PASSWORD });
    const loggedOut = await parley.auth.login({ login: account.username, password: PASSWORD });
    const heard: unknown[] = [];
    await parley.broker.subscribe(`user.${userId}`, (event) => heard.push(event.payload));
    await parley.auth.logout({ refreshToken: loggedOut.tokens!.refreshToken });
    // The first session's refresh token comes back after it was rotated: the session ends.
    await parley.auth.refresh({ refreshToken: account.tokens!.refreshToken });
    expect((await failure(parley.auth.refresh({ refreshToken: account.tokens!.refreshToken })))?.code).toBe(Code.Unauthenticated);
    const [reusedId, activeId, loggedOutId] = [account, active, loggedOut].map((r) => sessionOf(r.tokens!.accessToken));
    const unknown = "01900000-0000-7000-8000-000000000000";
    const { endedSessionIds } = await parley.auth.checkSessions({ sessionIds: [activeId!, loggedOutId!, reusedId!, unknown, "not-a-uuid"] });
    expect(endedSessionIds.sort()).toEqual([loggedOutId, reusedId, unknown, "not-a-uuid"].sort());
    await vi.waitFor(() =>
      expect(heard).toEqual([
        { case: "sessionsRevoked", value: expect.objectContaining({ userId, sessionIds: [loggedOutId] }) },
        { case: "sessionsRevoked", value: expect.objectContaining({ userId, sessionIds: [reusedId] }) },
      ]),
    );
    const tooMany = Array.from({ length: 1001 }, () => unknown);
    expect((await failure(parley.auth.checkSessions({ sessionIds: tooMany })))?.code).toBe(Code.InvalidArgument);
  });

  it("RevokeSession ends one of the caller's sessions and publishes it; another person's, an ended or a random id is NOT_FOUND alike", async () => {
    const sessionOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).sid as string;
    const account = await register();
    const userId = account.user!.id;
    const laptop = await parley.auth.login({ login: account.username, password: PASSWORD });
    const [phoneId, laptopId] = [account, laptop].map((r) => sessionOf(r.tokens!.accessToken));
    const as = { headers: { "x-user-id": userId, "x-session-id": laptopId! } };
    const heard: unknown[] = [];
    await parley.broker.subscribe(`user.${userId}`, (event) => heard.push(event.payload));
    await parley.auth.revokeSession({ sessionId: phoneId! }, as);
    await vi.waitFor(() => expect(heard).toEqual([{ case: "sessionsRevoked", value: expect.objectContaining({ userId, sessionIds: [phoneId] }) }]));
    expect((await parley.auth.listSessions({}, as)).sessions.map((s) => s.id)).toEqual([laptopId]);
    expect((await failure(parley.auth.refresh({ refreshToken: account.tokens!.refreshToken })))?.code).toBe(Code.Unauthenticated);
    expect((await parley.auth.checkSessions({ sessionIds: [phoneId!, laptopId!] })).endedSessionIds).toEqual([phoneId]);

    const mallory = await register();
    const malloryAs = { headers: { "x-user-id": mallory.user!.id, "x-session-id": sessionOf(mallory.tokens!.accessToken) } };
    const answers = await Promise.all([
      failure(parley.auth.revokeSession({ sessionId: laptopId! }, malloryAs)),
      failure(parley.auth.revokeSession({ sessionId: "01900000-0000-7000-8000-000000000000" }, malloryAs)),
      failure(parley.auth.revokeSession({ sessionId: phoneId! }, as)),
    ]);
    for (const error of answers) {
      expect(error?.code).toBe(Code.NotFound);
      expect(error?.rawMessage).toBe("session not found");
    }
    // Mallory's try changed nothing, and no further event was published.
    expect((await parley.auth.checkSessions({ sessionIds: [laptopId!] })).endedSessionIds).toEqual([]);
    expect(heard).toHaveLength(1);
    const malformed = await failure(parley.auth.revokeSession({ sessionId: "42" }, as));
    expect(malformed?.code).toBe(Code.InvalidArgument);
  });

  it("LogoutOthers ends every session of the caller but the calling one, and nobody else's", async () => {
    const sessionOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).sid as string;
    const account = await register();
    const userId = account.user!.id;
    const others = [account, await parley.auth.login({ login: account.username, password: PASSWORD })];
    const here = await parley.auth.login({ login: account.username, password: PASSWORD });
    const bystander = await register();
    const hereId = sessionOf(here.tokens!.accessToken);
    const otherIds = others.map((r) => sessionOf(r.tokens!.accessToken)).sort();
    const as = { headers: { "x-user-id": userId, "x-session-id": hereId } };
    const heard: { case?: string; value?: { sessionIds?: string[] } }[] = [];
    await parley.broker.subscribe(`user.${userId}`, (event) => heard.push(event.payload as never));
    expect((await parley.auth.logoutOthers({}, as)).sessionCount).toBe(2);
    await vi.waitFor(() => expect(heard.map((e) => [e.case, [...(e.value?.sessionIds ?? [])].sort()])).toEqual([["sessionsRevoked", otherIds]]));
    expect((await parley.auth.listSessions({}, as)).sessions.map((s) => s.id)).toEqual([hereId]);
    const bystanderId = sessionOf(bystander.tokens!.accessToken);
    expect((await parley.auth.checkSessions({ sessionIds: [hereId, bystanderId, ...otherIds] })).endedSessionIds.sort()).toEqual(otherIds);
    // Again: nothing left to end.
    expect((await parley.auth.logoutOthers({}, as)).sessionCount).toBe(0);
  });

  it("needs a signed-in caller for the session calls", async () => {
    expect((await failure(parley.auth.listSessions({})))?.code).toBe(Code.Unauthenticated);
    expect((await failure(parley.auth.logoutAll({})))?.code).toBe(Code.Unauthenticated);
    expect((await failure(parley.auth.revokeSession({ sessionId: "01900000-0000-7000-8000-000000000000" })))?.code).toBe(Code.Unauthenticated);
    expect((await failure(parley.auth.logoutOthers({})))?.code).toBe(Code.Unauthenticated);
  });
});
