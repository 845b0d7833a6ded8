import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { SignJWT, base64url, generateKeyPair, type JWK } from "jose";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { createLogger } from "@parley/kit";
import { testDatabase } from "@parley/kit/testing";
import { ACCESS_TOKEN_TYPE, ACCESS_TOKEN_USE, createAccessTokenVerifier, DEFAULT_AUDIENCE, DEFAULT_ISSUER, SIGNING_ALG, TokenRejectedError } from "@parley/kit/tokens";
import { initORM, type AuthDb } from "../src/db.js";
import { SigningKeys } from "../src/keys.js";

let parley: TestParley<"auth">;
let accessToken: string;
let refreshToken: string;
let userId: string;
const loadKeys = async (): Promise<JWK[]> => (await parley.auth.getJwks({})).keys.map((k) => ({ ...k }));

beforeAll(async () => {
  parley = await startTestParley({ services: ["auth"] });
  const username = `v_${randomBytes(4).toString("hex")}`;
  const registered = await parley.auth.register({ email: `${username}@example.com`, username, password: "a good long password", displayName: "" });
  accessToken = registered.tokens!.accessToken;
  refreshToken = registered.tokens!.refreshToken;
  userId = registered.user!.id;
});
afterAll(() => parley?.stop());
afterEach(() => {
  vi.useRealTimers();
});

async function rejection(token: string | undefined, options: Partial<Parameters<typeof createAccessTokenVerifier>[0]> = {}) {
  const verifier = createAccessTokenVerifier({ loadKeys, ...options });
  const error = await verifier.verify(token).then(() => undefined, (e) => e);
  expect(error).toBeInstanceOf(TokenRejectedError);
  return (error as TokenRejectedError).reason;
}

function parts(token: string) {
  const [header, payload] = token.split(".").slice(0, 2).map((p) => JSON.parse(Buffer.from(p!, "base64url").toString()));
  return { header, payload };
}

describe("access token verification", () => {
  it("accepts a token from the auth service and returns its claims", async () => {
    const claims = await createAccessTokenVerifier({ loadKeys }).verify(accessToken);
    expect(claims.userId).toBe(userId);
    expect(claims.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(claims.expiresAt).toBeGreaterThan(Date.now());
    const { header, payload } = parts(accessToken);
    expect(header).toMatchObject({ alg: "EdDSA", typ: "at+jwt" });
    expect(header.kid).toBeTruthy();
    expect(Object.keys(payload).sort()).toEqual(["aud", "exp", "iat", "iss", "jti", "sid", "sub", "typ"]);
  });

  it("rejects a token signed by another key, even with our kid", async () => {
    const { header, payload } = parts(accessToken);
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const forged = await new SignJWT(payload).setProtectedHeader(header).sign(privateKey);
    expect(await rejection(forged)).toBe("invalid");
  });

  it("rejects alg: none and an HMAC token keyed with our public key", async () => {
    const { header, payload } = parts(accessToken);
    const encode = (o: object) => base64url.encode(JSON.stringify(o));
    expect(await rejection(`${encode({ ...header, alg: "none" })}.${encode(payload)}.`)).toBe("invalid");
    const [jwk] = await loadKeys();
    const hmac = await new SignJWT(payload).setProtectedHeader({ ...header, alg: "HS256" }).sign(Buffer.from(jwk!.x!, "base64url"));
    expect(await rejection(hmac)).toBe("invalid");
  });

  it("rejects a tampered payload", async () => {
    const [h, p, s] = accessToken.split(".");
    const payload = JSON.parse(Buffer.from(p!, "base64url").toString());
    const tampered = `${h}.${base64url.encode(JSON.stringify({ ...payload, sub: "00000000-0000-7000-8000-000000000000" }))}.${s}`;
    expect(await rejection(tampered)).toBe("invalid");
  });

  it("rejects an expired token as expired", async () => {
    const verifier = createAccessTokenVerifier({ loadKeys });
    await verifier.verify(accessToken); // keys loaded while the clock is real
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 16 * 60_000 });
    const error = await verifier.verify(accessToken).catch((e) => e);
    expect(error).toBeInstanceOf(TokenRejectedError);
    expect(error.reason).toBe("expired");
  });

  it("rejects a wrong audience or issuer", async () => {
    expect(await rejection(accessToken, { audience: "another-app" })).toBe("invalid");
    expect(await rejection(accessToken, { issuer: "someone-else" })).toBe("invalid");
  });

  it("rejects a refresh token, garbage and a missing token", async () => {
    expect(await rejection(refreshToken)).toBe("malformed");
    expect(await rejection("a.b.c")).toBe("invalid");
    expect(await rejection("x".repeat(10_000))).toBe("malformed");
    expect(await rejection(undefined)).toBe("missing");
  });

  it("keeps old tokens valid across a key rotation and learns the new key on its own", async () => {
    const verifier = createAccessTokenVerifier({ loadKeys, refetchIntervalMs: 0 });
    await verifier.verify(accessToken);
    // An operator's call: RotateSigningKey takes only an admin credential.
    const admin = { headers: { authorization: `Bearer ${await parley.internalAuth.adminToken(5, "test")}` } };
    const { kid } = await parley.auth.rotateSigningKey({}, admin);
    expect(parts(accessToken).header.kid).not.toBe(kid);
    // A new token is signed with the new key, which the verifier has not seen yet.
    const username = `rot_${randomBytes(4).toString("hex")}`;
    const { tokens } = await parley.auth.register({ email: `${username}@example.com`, username, password: "a good long password", displayName: "" });
    const fresh = tokens!.accessToken;
    expect(parts(fresh).header.kid).toBe(kid);
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ userId: expect.any(String) });
    await expect(verifier.verify(accessToken)).resolves.toMatchObject({ userId });
    expect((await loadKeys()).map((k) => k.kid)).toEqual(expect.arrayContaining([kid, parts(accessToken).header.kid]));
  });
});

describe("token lifetimes (signed with a real signing key of the auth service's key store)", () => {
  const keyDatabase = testDatabase();
  let db: AuthDb;
  let keys: SigningKeys;
  const TTL = 15 * 60;
  beforeAll(async () => {
    db = await initORM({ databaseUrl: keyDatabase.databaseUrl, dataDir: keyDatabase.dataDir, log: createLogger("test", "silent") });
    keys = new SigningKeys(db, TTL * 1000);
  });
  afterAll(async () => {
    await db?.orm.close();
    await keyDatabase.drop();
  });

  /** An access token exactly as the auth service makes one, but with the given iat and exp (seconds). */
  async function signed(iat: number, exp: number) {
    const { kid, key } = await keys.current();
    return new SignJWT({ typ: ACCESS_TOKEN_USE, sid: "00000000-0000-7000-8000-000000000001" })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(DEFAULT_ISSUER)
      .setAudience(DEFAULT_AUDIENCE)
      .setSubject("00000000-0000-7000-8000-000000000002")
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti("00000000-0000-7000-8000-000000000003")
      .sign(key);
  }
  const now = () => Math.floor(Date.now() / 1000);
  const verifier = () => createAccessTokenVerifier({ loadKeys: () => keys.publicKeys() });
  const reasonOf = (token: string, v = verifier()) =>
    v.verify(token).then(
      () => "accepted",
      (e: TokenRejectedError) => e.reason,
    );

  it("accepts a token of the configured lifetime, issued now or a few seconds ahead (clock skew)", async () => {
    expect(await reasonOf(await signed(now(), now() + TTL))).toBe("accepted");
    expect(await reasonOf(await signed(now() + 3, now() + 3 + TTL))).toBe("accepted");
  });

  it("refuses a token issued a day in the future", async () => {
    expect(await reasonOf(await signed(now() + 86_400, now() + 86_400 + TTL))).toBe("invalid");
    expect(await reasonOf(await signed(now() + 60, now() + 60 + TTL))).toBe("invalid");
  });

  it("refuses a token whose lifetime exceeds the configured TTL (exp 100 years out)", async () => {
    expect(await reasonOf(await signed(now(), now() + 100 * 365 * 86_400))).toBe("invalid");
    expect(await reasonOf(await signed(now(), now() + TTL + 60))).toBe("invalid");
    expect(await reasonOf(await signed(now() - 60, now() + TTL))).toBe("invalid");
    // A deployment with a longer TTL tells its verifiers so.
    const patient = createAccessTokenVerifier({ loadKeys: () => keys.publicKeys(), maxLifetimeSeconds: 2 * 3600 });
    expect(await reasonOf(await signed(now(), now() + 2 * 3600), patient)).toBe("accepted");
  });
});
