// The internal credential over real gRPC: a kit server verifies every call and takes the user
// only from a token signed with INTERNAL_AUTH_SECRET; forged, expired, unsigned or over-long
// tokens are refused with UNAUTHENTICATED.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { Code, ConnectError } from "@connectrpc/connect";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { SignJWT, base64url } from "jose";
import { GetUserRequestSchema, GetUserResponseSchema, UserService } from "@parley/proto/user/v1/user_pb";
import {
  asUser,
  createGrpcServer,
  createLogger,
  createServiceClient,
  fail,
  generateInternalSecret,
  implement,
  InternalAuth,
  type GrpcServer,
} from "../src/index.js";
import { TEST_INTERNAL_SECRET, testInternalAuth } from "../src/testing.js";

const alice = "0190b1f0-0000-7000-8000-00000000a11c";
const internalAuth = testInternalAuth("edge");
let server: GrpcServer;
let address: string;

beforeAll(async () => {
  const unused = async () => {
    throw fail.failedPrecondition("not part of this test");
  };
  server = createGrpcServer({
    name: "who-am-i",
    log: createLogger("test", "silent"),
    internalAuth: testInternalAuth("user"),
    services: [
      implement(UserService, {
        // Answers with the identity the server took from the call: user id, and the caller as the username.
        async getUser(_request, ctx) {
          return { user: { id: ctx.userId ?? "", username: ctx.caller, displayName: ctx.sessionId ?? "" } };
        },
        createUser: unused,
        deleteUser: unused,
        batchGetUsers: unused,
        updateUser: unused,
        searchUsers: unused,
        resolveLogin: unused,
      }),
    ],
  });
  address = `127.0.0.1:${await server.listen(0, "127.0.0.1")}`;
});
afterAll(() => server?.shutdown(1_000));

/** GetUser with @grpc/grpc-js and exactly these metadata entries: the status code, and the answer when OK. */
function rawGetUser(metadata: Record<string, string>): Promise<{ code: grpc.status; userId?: string }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const meta = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) meta.set(key, value);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      `/${UserService.typeName}/GetUser`,
      (request: Uint8Array) => Buffer.from(request),
      (bytes: Buffer) => fromBinary(GetUserResponseSchema, bytes),
      toBinary(GetUserRequestSchema, create(GetUserRequestSchema, { id: alice })),
      meta,
      { deadline: Date.now() + 10_000 },
      (error, response) => {
        client.close();
        resolve(error ? { code: error.code } : { code: grpc.status.OK, userId: response?.user?.id });
      },
    );
  });
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A token shaped like the real ones, with the claims, key and header given. */
function forged(options: { secret?: string; iat?: number; exp?: number; typ?: string; audience?: string; role?: string }) {
  const iat = options.iat ?? nowSeconds();
  return new SignJWT({ ...(options.role && { role: options.role }) })
    .setProtectedHeader({ alg: "HS256", typ: options.typ ?? "parley-internal+jwt" })
    .setIssuer("edge")
    .setSubject(alice)
    .setAudience(options.audience ?? "parley-internal")
    .setIssuedAt(iat)
    .setExpirationTime(options.exp ?? iat + 60)
    .sign(Buffer.from(options.secret ?? TEST_INTERNAL_SECRET));
}

describe("internal credential", () => {
  it("a call from a kit client acts for the user of asUser(), as the calling process", async () => {
    const client = createServiceClient(UserService, address, { internalAuth });
    const { user } = await client.getUser({ id: alice }, asUser(alice));
    expect(user).toMatchObject({ id: alice, username: "edge" });
    const anonymous = await client.getUser({ id: alice });
    expect(anonymous.user).toMatchObject({ id: "", username: "edge" });
  });

  it("refuses a call that only says x-user-id, with UNAUTHENTICATED", async () => {
    expect(await rawGetUser({ "x-user-id": alice, "x-session-id": "s1" })).toEqual({ code: grpc.status.UNAUTHENTICATED });
  });

  it("takes the user from the signed token only, never from an x-user-id next to it", async () => {
    const bob = "0190b1f0-0000-7000-8000-000000000b0b";
    const token = await internalAuth.credential(bob);
    expect(await rawGetUser({ authorization: `Bearer ${token}`, "x-user-id": alice })).toEqual({ code: grpc.status.OK, userId: bob });
  });

  it("refuses a token signed with another secret, an expired one, and one with alg none", async () => {
    const wrongSecret = await forged({ secret: generateInternalSecret() });
    const expired = await forged({ iat: nowSeconds() - 600, exp: nowSeconds() - 540 });
    const header = base64url.encode(JSON.stringify({ alg: "none", typ: "parley-internal+jwt" }));
    const payload = base64url.encode(JSON.stringify({ iss: "edge", sub: alice, aud: "parley-internal", iat: nowSeconds(), exp: nowSeconds() + 60 }));
    const unsigned = `${header}.${payload}.`;
    // The same three, but the control: a correctly made token passes.
    expect(await rawGetUser({ authorization: `Bearer ${await forged({})}` })).toEqual({ code: grpc.status.OK, userId: alice });
    for (const token of [wrongSecret, expired, unsigned]) {
      expect(await rawGetUser({ authorization: `Bearer ${token}` }), token).toEqual({ code: grpc.status.UNAUTHENTICATED });
    }
  });

  it("refuses a token issued in the future, one that lives too long, another audience or type, and garbage", async () => {
    const refused = [
      await forged({ iat: nowSeconds() + 3600 }),
      await forged({ exp: nowSeconds() + 24 * 3600 }),
      await forged({ audience: "parley" }),
      await forged({ typ: "JWT" }),
      // An admin token may live longer, but not for ever.
      await forged({ role: "admin", exp: nowSeconds() + 365 * 24 * 3600 }),
    ];
    for (const token of refused) {
      expect(await rawGetUser({ authorization: `Bearer ${token}` }), token).toEqual({ code: grpc.status.UNAUTHENTICATED });
    }
    for (const value of ["Bearer", "Bearer not.a.jwt", "Basic abc", "x".repeat(5000)]) {
      expect(await rawGetUser({ authorization: value }), value).toEqual({ code: grpc.status.UNAUTHENTICATED });
    }
  });

  it("refuses a client whose process holds another secret", async () => {
    const stranger = createServiceClient(UserService, address, { internalAuth: new InternalAuth(generateInternalSecret(), "edge") });
    const error = await stranger.getUser({ id: alice }, asUser(alice)).catch((e) => ConnectError.from(e));
    expect((error as ConnectError).code).toBe(Code.Unauthenticated);
    // The reason stays in the server's log: the caller learns nothing about the token.
    expect((error as ConnectError).rawMessage).not.toMatch(/signature|expired|alg/i);
  });

  it("signs once per (user, session) and reuses the token, so a call costs no signature", async () => {
    const auth = new InternalAuth(TEST_INTERNAL_SECRET, "edge");
    const first = await auth.credential(alice, "s1");
    expect(await auth.credential(alice, "s1")).toBe(first);
    expect(await auth.credential(alice, "s2")).not.toBe(first);
    expect(await auth.credential()).not.toBe(first);
  });

  it("will not be made with a secret shorter than 32 bytes", () => {
    expect(() => new InternalAuth("short", "edge")).toThrow(/INTERNAL_AUTH_SECRET.*32 bytes/);
  });
});
