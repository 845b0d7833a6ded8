import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { SignJWT, base64url, generateKeyPair, type JWK } from "jose";
import { startTestParley, type TestParley } from "@parley/all-in-one/testing";
import { createAccessTokenVerifier, TokenRejectedError } from "../src/verify.js";

let parley: TestParley;
let accessToken: string;
let refreshToken: string;
let userId: string;
const loadKeys = async (): Promise<JWK[]> => (await parley.auth.getJwks({})).keys.map((k) => ({ ...k }));

beforeAll(async () => {
  parley = await startTestParley();
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
