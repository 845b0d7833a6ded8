// Login must not tell whether an account exists by the time it takes: a wrong password for a
// real account and any password for an unknown login do the same work. Timing would flake,
// so the test compares the work itself: the SQL statements, the calls to the user service,
// and the password checks of each path.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, type Client, type Interceptor } from "@connectrpc/connect";
import { createServiceClient, parseEnv } from "@parley/kit";
import { sqlRecorder, testInternalAuth } from "@parley/kit/testing";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { AuthService } from "@parley/proto/auth/v1/auth_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { authEnv, build, createAuthDeps } from "../src/index.js";

const PASSWORD = "correct horse battery staple";
const tag = () => randomBytes(4).toString("hex");
const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (e) => ConnectError.from(e));

const sql = sqlRecorder();
const userServiceCalls: string[] = [];
let passwordChecks = 0;

let parley: TestParley<"auth">;
let auth: Client<typeof AuthService>;
let stopAuth: () => Promise<void>;

beforeAll(async () => {
  // The user service of a whole Parley; an auth service of our own, whose work we can watch.
  parley = await startTestParley({ services: ["auth"] });
  const config = parseEnv(authEnv, { ...parley.env, USER_SERVICE_ADDR: parley.addresses.user, LOGIN_FAILURES_PER_ACCOUNT: "1000" });
  const internalAuth = testInternalAuth("auth");
  const deps = await createAuthDeps(config, sql.log, parley.broker, internalAuth, "memory://");
  const countCalls: Interceptor = (next) => (request) => {
    userServiceCalls.push(request.method.name);
    return next(request);
  };
  deps.users = createServiceClient(UserService, parley.addresses.user, { internalAuth, interceptors: [countCalls] });
  const verify = deps.hasher.verify.bind(deps.hasher);
  deps.hasher.verify = (stored, password) => {
    passwordChecks++;
    return verify(stored, password);
  };
  const server = build(deps, internalAuth);
  const port = await server.listen(0, "127.0.0.1");
  auth = createServiceClient(AuthService, `127.0.0.1:${port}`, { internalAuth: testInternalAuth(), defaultTimeoutMs: 30_000 });
  stopAuth = async () => {
    await server.shutdown(1_000);
    await deps.close();
  };
});
afterAll(async () => {
  await stopAuth?.();
  await parley?.stop();
});

/** What one failed login did, and how it failed. */
async function workOf(login: string) {
  sql.statements.length = 0;
  userServiceCalls.length = 0;
  passwordChecks = 0;
  const error = await failure(auth.login({ login, password: "wrong password!" }));
  return {
    answer: { code: error?.code, message: error?.rawMessage, field: error?.metadata.get("parley-field") },
    sql: [...sql.statements],
    userServiceCalls: [...userServiceCalls],
    passwordChecks,
  };
}

describe("login timing", () => {
  it("does the same work for a wrong password and an unknown account: the same SQL, user service calls and one password check", async () => {
    const username = `work_${tag()}`;
    await auth.register({ email: `${username}@example.com`, username, password: PASSWORD, displayName: "" });
    const existing = await workOf(username);
    const unknown = await workOf(`nobody_${tag()}`);
    const unknownEmail = await workOf(`nobody_${tag()}@example.com`);

    expect(existing.answer).toEqual({ code: Code.Unauthenticated, message: "invalid login or password", field: null });
    expect(existing.sql.length).toBeGreaterThan(0);
    expect(existing.passwordChecks).toBe(1);
    for (const other of [unknown, unknownEmail]) {
      expect(other.answer).toEqual(existing.answer);
      expect(other.sql).toEqual(existing.sql);
      expect(other.userServiceCalls).toEqual(existing.userServiceCalls);
      expect(other.passwordChecks).toBe(1);
    }
  });
});
