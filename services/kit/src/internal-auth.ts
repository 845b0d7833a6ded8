// Callers of a Parley service prove they are Parley: every process holds one shared secret
// (INTERNAL_AUTH_SECRET) and sends, with each call, a short-lived token signed with it that
// names the calling process and the user and session it acts for. Servers take the user only
// from a verified token, so a process that merely reaches a port cannot act as anyone.
//
// HS256 rather than EdDSA: every Parley process both calls and serves, so each would hold a
// signing key anyway; a shared symmetric key keeps one secret to manage and verifies in
// microseconds. Tokens are cached on both sides (signed per (user, session) and reused until
// shortly before expiry; verified once per token string), so the hot path costs a map lookup.
import { createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { SignJWT, jwtVerify } from "jose";
import type { Interceptor } from "@connectrpc/connect";
import { META } from "./context.js";

export const INTERNAL_AUDIENCE = "parley-internal";
/** Set in the token's header: an access token of a user (or any other JWT) is never taken for one of these. */
const TOKEN_TYPE = "parley-internal+jwt";
const ALGORITHM = "HS256";
export const MIN_SECRET_BYTES = 32;
/** The metadata key of the credential (the standard one, so `buf curl -H "authorization: Bearer ..."` works). */
export const CREDENTIAL_HEADER = "authorization";

const CALL_TOKEN_SECONDS = 60;
/** A cached token is replaced once less than this is left: it must outlive a call's deadline and clock skew. */
const RENEW_BEFORE_SECONDS = 20;
/** Longest lifetime accepted for a process's token (an admin token may live longer, up to MAX_ADMIN_TOKEN_MINUTES). */
const MAX_CALL_TOKEN_SECONDS = 2 * CALL_TOKEN_SECONDS;
export const MAX_ADMIN_TOKEN_MINUTES = 12 * 60;
const CLOCK_SKEW_SECONDS = 5;
/** Bounds the caches: an edge serving many users signs one token per (user, session). */
const CACHE_ENTRIES = 10_000;

/** Who a verified call comes from. */
export interface VerifiedCaller {
  /** The process ("edge", "socket", "room", ...) or "operator:<name>" for an admin token. */
  caller: string;
  userId?: string;
  sessionId?: string;
  /** Holds an admin credential (operator commands): may call admin RPCs. */
  admin: boolean;
}

export class InvalidCredentialError extends Error {
  override name = "InvalidCredentialError";
}

/** A fresh secret for INTERNAL_AUTH_SECRET (the all-in-one process makes one per start). */
export function generateInternalSecret(): string {
  return randomBytes(48).toString("base64url");
}

/** Why `secret` cannot be INTERNAL_AUTH_SECRET, or undefined when it can. */
export function internalSecretProblem(secret: string): string | undefined {
  if (Buffer.byteLength(secret, "utf8") < MIN_SECRET_BYTES) {
    return `must be at least ${MIN_SECRET_BYTES} bytes (make one with: openssl rand -base64 48)`;
  }
  return undefined;
}

/** One process's view of the internal credential: signs the tokens of its calls and verifies those it serves. */
export class InternalAuth {
  readonly #key: KeyObject;
  readonly #signed = new Map<string, { token: Promise<string>; renewAt: number }>();
  readonly #verified = new Map<string, { caller: VerifiedCaller; expiresAt: number }>();

  /** `caller` names this process in the tokens it signs (logs of the callee show it). */
  constructor(
    secret: string,
    readonly caller: string,
  ) {
    const problem = internalSecretProblem(secret);
    if (problem) throw new Error(`INTERNAL_AUTH_SECRET ${problem}`);
    this.#key = createSecretKey(Buffer.from(secret, "utf8"));
  }

  /** A token for a call of this process on behalf of `userId` (and `sessionId`), or of nobody. */
  credential(userId?: string, sessionId?: string): Promise<string> {
    const cacheKey = `${userId ?? ""}\n${sessionId ?? ""}`;
    const now = Date.now();
    const cached = this.#signed.get(cacheKey);
    if (cached && cached.renewAt > now) return cached.token;
    const token = this.#sign({ sid: sessionId }, this.caller, CALL_TOKEN_SECONDS, userId);
    remember(this.#signed, cacheKey, { token, renewAt: now + (CALL_TOKEN_SECONDS - RENEW_BEFORE_SECONDS) * 1000 });
    // A failed signature must not stay cached.
    token.catch(() => this.#signed.delete(cacheKey));
    return token;
  }

  /** An admin credential for an operator (`npm run admin-token`): no user, role admin, valid `minutes`. */
  adminToken(minutes: number, operator = "admin"): Promise<string> {
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > MAX_ADMIN_TOKEN_MINUTES) {
      throw new RangeError(`an admin token lives 1 to ${MAX_ADMIN_TOKEN_MINUTES} minutes`);
    }
    return this.#sign({ role: "admin" }, `operator:${operator}`, minutes * 60);
  }

  /** The caller a token proves, or InvalidCredentialError. Only HS256 with this key, for INTERNAL_AUDIENCE, unexpired. */
  async verify(token: string): Promise<VerifiedCaller> {
    const now = Date.now();
    const cached = this.#verified.get(token);
    if (cached && cached.expiresAt > now) return cached.caller;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#key, {
        algorithms: [ALGORITHM],
        audience: INTERNAL_AUDIENCE,
        typ: TOKEN_TYPE,
        requiredClaims: ["iss", "iat", "exp"],
        clockTolerance: CLOCK_SKEW_SECONDS,
      }));
    } catch (error) {
      throw new InvalidCredentialError((error as Error).message);
    }
    const { iss, iat, exp, sub, sid, role } = payload as { iss: string; iat: number; exp: number; sub?: unknown; sid?: unknown; role?: unknown };
    const admin = role === "admin";
    if (iat > now / 1000 + CLOCK_SKEW_SECONDS) throw new InvalidCredentialError("issued in the future");
    const maxLifetime = admin ? MAX_ADMIN_TOKEN_MINUTES * 60 : MAX_CALL_TOKEN_SECONDS;
    if (exp - iat > maxLifetime) throw new InvalidCredentialError("lives longer than allowed");
    if ((sub !== undefined && typeof sub !== "string") || (sid !== undefined && typeof sid !== "string")) {
      throw new InvalidCredentialError("malformed sub or sid");
    }
    const caller: VerifiedCaller = { caller: iss, userId: sub || undefined, sessionId: sid || undefined, admin };
    remember(this.#verified, token, { caller, expiresAt: Math.min(exp * 1000, now + MAX_CALL_TOKEN_SECONDS * 1000) });
    return caller;
  }

  #sign(claims: Record<string, unknown>, issuer: string, seconds: number, subject?: string): Promise<string> {
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: ALGORITHM, typ: TOKEN_TYPE })
      .setIssuer(issuer)
      .setAudience(INTERNAL_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${seconds}s`);
    if (subject) jwt.setSubject(subject);
    return jwt.sign(this.#key);
  }
}

/** Adds to a bounded cache, dropping the oldest entry when full (Maps iterate in insertion order). */
function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  cache.delete(key);
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
}

/**
 * Turns the intent headers of a call (`x-user-id`, `x-session-id`, set by asUser() and the
 * edge's callOptions()) into this process's signed credential. A call that brings its own
 * `authorization` (an operator's admin token) keeps it.
 */
export function internalCredentialInterceptor(auth: InternalAuth): Interceptor {
  return (next) => async (request) => {
    if (!request.header.has(CREDENTIAL_HEADER)) {
      const userId = request.header.get(META.userId) || undefined;
      const sessionId = request.header.get(META.sessionId) || undefined;
      request.header.set(CREDENTIAL_HEADER, `Bearer ${await auth.credential(userId, sessionId)}`);
    }
    // Servers ignore them; they are not sent.
    request.header.delete(META.userId);
    request.header.delete(META.sessionId);
    return next(request);
  };
}

/** The token of an `authorization: Bearer <token>` value, or undefined. */
export function bearerToken(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(value);
  return match?.[1];
}
