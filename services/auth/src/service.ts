// AuthService: registration, login, sessions with rotating refresh tokens, signing keys.
import { createHash, randomBytes } from "node:crypto";
import { LockMode } from "@mikro-orm/core";
import type { Client } from "@connectrpc/connect";
import { SignJWT } from "jose";
import { uuidv7 } from "uuidv7";
import { z } from "zod";
import {
  Code,
  ConnectError,
  asUser,
  fail,
  publishCommitted,
  requireUserId,
  toTimestamp,
  validate,
  type Broker,
  type CallContext,
  type Logger,
  type RateLimiter,
  type ServiceHandlers,
} from "@parley/kit";
import { BATCHES } from "@parley/proto/rules";
import { fields } from "@parley/proto/rules/zod";
import type { AuthService } from "@parley/proto/auth/v1/auth_pb";
import type { User as UserMessage, UserService } from "@parley/proto/user/v1/user_pb";
import { ACCESS_TOKEN_TYPE, ACCESS_TOKEN_USE, SIGNING_ALG } from "@parley/kit/tokens";
import type { AuthDb, AuthUnit } from "./db.js";
import type { Session } from "./entities.js";
import type { AuthSettings } from "./env.js";
import type { SigningKeys } from "./keys.js";
import type { PasswordHasher } from "./passwords.js";

export interface AuthDeps {
  db: AuthDb;
  broker: Broker;
  users: Client<typeof UserService>;
  keys: SigningKeys;
  hasher: PasswordHasher;
  limiter: RateLimiter;
  settings: AuthSettings;
  log: Logger;
}

const LOGIN_FAILED = "invalid login or password";
/** Sessions one CheckSessions call may ask about (a socket node's sweep sends them in pages). */
export const CHECK_SESSIONS_MAX = BATCHES.sessions;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REFRESH_INVALID = "the refresh token is not valid";
/** Looked up when the login names no account: no credential has it. */
const NO_ACCOUNT = "00000000-0000-0000-0000-000000000000";

/** Refuses empty and oversized passwords before anything else looks at them. */
function checkPasswordSize(password: string): void {
  validate(z.object({ password: fields.loginPassword }), { password });
}

const registerRequest = z.object({
  email: fields.email,
  username: fields.username,
  password: fields.password,
  displayName: fields.signUpDisplayName,
});
const loginRequest = z.object({ login: fields.login });
const revokeSessionRequest = z.object({ session_id: fields.id });

export class AuthServiceImpl implements ServiceHandlers<typeof AuthService> {
  constructor(private readonly deps: AuthDeps) {}

  async register(request: { email: string; username: string; password: string; displayName: string }, ctx: CallContext) {
    checkPasswordSize(request.password);
    const input = validate(registerRequest, request);
    const { db, users, hasher, log } = this.deps;
    const userId = uuidv7();
    const passwordHash = await hasher.hash(input.password);
    let profile: UserMessage | undefined;
    let issued: IssuedSession;
    try {
      // The profile is created inside the credential transaction: if it is refused
      // (taken name), nothing of the account is committed.
      issued = await db.transactional(async (unit) => {
        unit.credentials.create({ userId, passwordHash });
        const session = this.newSession(unit, userId, ctx);
        ({ user: profile } = await users.createUser({ id: userId, username: input.username, email: input.email, displayName: input.displayName }));
        return session;
      });
    } catch (error) {
      if (profile) {
        // The profile exists but the credentials did not commit: undo the profile.
        await users.deleteUser({ id: userId }).catch((undo) => log.error({ err: undo, userId }, "could not undo a half-made registration"));
      }
      throw error;
    }
    return { user: profile, tokens: await this.tokens(userId, issued) };
  }

  async login(request: { login: string; password: string }, ctx: CallContext) {
    checkPasswordSize(request.password);
    const login = validate(loginRequest, request).login.toLowerCase();
    const { limiter, settings, users, hasher, db } = this.deps;
    const userId = await users.resolveLogin({ login }).then(
      (r) => r.userId,
      (error) => {
        if (ConnectError.from(error).code === Code.NotFound) return undefined;
        throw error;
      },
    );
    // Keyed by the account, so that its username and email (in any case) share one budget;
    // an unknown login by its normalized text, so that probing for accounts is limited alike.
    const accountKey = userId ? `login:account:${userId}` : `login:unknown:${login}`;
    const addressKey = `login:address:${ctx.clientAddress ?? "unknown"}`;
    const { perAccount, perAddress, windowMs } = settings.loginLimits;
    // Counted before the password is checked, in one atomic step, so that concurrent attempts
    // cannot all pass one check; a success gives its count back below.
    for (const [key, limit] of [[addressKey, perAddress], [accountKey, perAccount]] as const) {
      const state = await limiter.hit(key, limit, windowMs);
      if (!state.allowed) throw fail.resourceExhausted("too many failed logins; try again later", state.retryAfterMs / 1000);
    }
    // The same lookup and the same argon2 verify whether or not the account exists, so that
    // the time of the answer does not tell (the nil UUID is never a user id).
    const passwordHash = await db.fork().credentials.passwordHash(userId ?? NO_ACCOUNT);
    const ok = await hasher.verify(passwordHash, request.password);
    if (!ok || !userId) throw fail.unauthenticated(LOGIN_FAILED);
    await limiter.refund(addressKey);
    await limiter.reset(accountKey);
    const issued = await db.transactional(async (unit) => this.newSession(unit, userId, ctx));
    const { user } = await users.getUser({ id: userId }, asUser(userId));
    return { user, tokens: await this.tokens(userId, issued) };
  }

  async refresh(request: { refreshToken: string }) {
    const tokenHash = hashToken(request.refreshToken);
    const { db, users } = this.deps;
    const outcome = await db.transactional(async ({ sessions, refreshTokens }) => {
      const token = await refreshTokens.findOne({ tokenHash }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!token) return { ok: false, error: REFRESH_INVALID } as const;
      const session = await sessions.findOne({ id: token.sessionId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      const now = new Date();
      if (!session || session.revokedAt || session.expiresAt <= now) return { ok: false, error: REFRESH_INVALID } as const;
      if (token.rotatedAt) {
        // A rotated token came back: someone holds a copy. End the whole session.
        session.revokedAt = now;
        session.revokedReason = "reuse";
        return { ok: false, error: "the refresh token was already used; the session has been ended", ended: session } as const;
      }
      token.rotatedAt = now;
      session.lastUsedAt = now;
      session.expiresAt = new Date(now.getTime() + this.deps.settings.refreshTtlMs);
      const refreshToken = newRefreshToken();
      refreshTokens.create({ tokenHash: hashToken(refreshToken), sessionId: session.id });
      return { ok: true, issued: { session, refreshToken } } as const;
    });
    if (!outcome.ok) {
      if ("ended" in outcome && outcome.ended) this.publishEnded(outcome.ended.userId, [outcome.ended.id]);
      throw fail.unauthenticated(outcome.error);
    }
    const userId = outcome.issued.session.userId;
    const { user } = await users.getUser({ id: userId }, asUser(userId));
    return { user, tokens: await this.tokens(userId, outcome.issued) };
  }

  async logout(request: { refreshToken: string }) {
    const { sessions, refreshTokens } = this.deps.db.fork();
    const token = await refreshTokens.findOne({ tokenHash: hashToken(request.refreshToken) });
    // Logging out twice, or with a token we do not know, is not an error.
    if (token) {
      const session = await sessions.findOne({ id: token.sessionId });
      const ended = await sessions.nativeUpdate({ id: token.sessionId, revokedAt: null }, { revokedAt: new Date(), revokedReason: "logout" });
      if (session && ended > 0) this.publishEnded(session.userId, [session.id]);
    }
    return {};
  }

  async logoutAll(_request: unknown, ctx: CallContext) {
    const userId = requireUserId(ctx);
    const { sessions } = this.deps.db.fork();
    // The ids go in the event: a session started after this call is not one of them.
    const open = await sessions.find({ userId, revokedAt: null }, { fields: ["id"] });
    const ids = open.map((s) => s.id);
    const sessionCount = ids.length === 0 ? 0 : await sessions.nativeUpdate({ id: { $in: ids }, revokedAt: null }, { revokedAt: new Date(), revokedReason: "logout_all" });
    if (ids.length > 0) this.publishEnded(userId, ids);
    return { sessionCount };
  }

  async revokeSession(request: { sessionId: string }, ctx: CallContext) {
    const userId = requireUserId(ctx);
    const { session_id: sessionId } = validate(revokeSessionRequest, { session_id: request.sessionId });
    const { sessions } = this.deps.db.fork();
    // Scoped by the caller: another person's session is not found, exactly as a random id, and an
    // ended or expired one is not found either (it is not in the list of sessions).
    const ended = await sessions.nativeUpdate(
      { id: sessionId, userId, revokedAt: null, expiresAt: { $gt: new Date() } },
      { revokedAt: new Date(), revokedReason: "revoked" },
    );
    if (ended === 0) throw fail.notFound("session not found");
    this.publishEnded(userId, [sessionId]);
    return {};
  }

  async logoutOthers(_request: unknown, ctx: CallContext) {
    const userId = requireUserId(ctx);
    const current = ctx.sessionId;
    if (!current) throw fail.unauthenticated("the call names no session");
    const { sessions } = this.deps.db.fork();
    const open = await sessions.find({ userId, revokedAt: null, id: { $ne: current } }, { fields: ["id"] });
    const ids = open.map((s) => s.id);
    const sessionCount = ids.length === 0 ? 0 : await sessions.nativeUpdate({ id: { $in: ids }, revokedAt: null }, { revokedAt: new Date(), revokedReason: "logout_others" });
    if (ids.length > 0) this.publishEnded(userId, ids);
    return { sessionCount };
  }

  async checkSessions(request: { sessionIds: string[] }) {
    if (request.sessionIds.length > CHECK_SESSIONS_MAX) throw fail.invalidArgument("session_ids", `at most ${CHECK_SESSIONS_MAX}`);
    const asked = [...new Set(request.sessionIds)];
    const ids = asked.filter((id) => UUID.test(id));
    const rows = ids.length === 0 ? [] : await this.deps.db.fork().sessions.find({ id: { $in: ids } }, { fields: ["id", "revokedAt", "expiresAt"] });
    const now = Date.now();
    const active = new Set(rows.filter((s) => !s.revokedAt && s.expiresAt.getTime() > now).map((s) => s.id));
    return { endedSessionIds: asked.filter((id) => !active.has(id)) };
  }

  /**
   * Socket nodes close the sockets of ended sessions when they hear it. The event is a fast path
   * only: the edge and the socket tier also ask CheckSessions, so a lost event delays nothing by
   * more than their cache's lifetime.
   */
  private publishEnded(userId: string, sessionIds: string[]): void {
    publishCommitted(this.deps.broker, this.deps.log, { roomId: "", payload: { case: "sessionsRevoked", value: { userId, sessionIds } }, users: [userId] });
  }

  async listSessions(_request: unknown, ctx: CallContext) {
    const userId = requireUserId(ctx);
    const sessions = await this.deps.db
      .fork()
      .sessions.find({ userId, revokedAt: null, expiresAt: { $gt: new Date() } }, { orderBy: { lastUsedAt: "desc" } });
    return {
      sessions: sessions.map((s) => ({
        id: s.id,
        createTime: toTimestamp(s.createdAt),
        lastUseTime: toTimestamp(s.lastUsedAt),
        expireTime: toTimestamp(s.expiresAt),
        userAgent: s.userAgent,
        clientAddress: s.clientAddress,
        current: s.id === ctx.sessionId,
      })),
    };
  }

  async getJwks() {
    const keys = await this.deps.keys.publicKeys();
    return { keys: keys.map((k) => ({ kty: k.kty, crv: k.crv, x: k.x, kid: k.kid, alg: k.alg, use: k.use })) };
  }

  async rotateSigningKey() {
    return { kid: await this.deps.keys.rotate() };
  }

  private newSession({ sessions, refreshTokens }: AuthUnit, userId: string, ctx: CallContext): IssuedSession {
    const now = new Date();
    const session = sessions.create({
      id: uuidv7(),
      userId,
      userAgent: (ctx.userAgent ?? "").slice(0, 512),
      clientAddress: (ctx.clientAddress ?? "").slice(0, 64),
      lastUsedAt: now,
      expiresAt: new Date(now.getTime() + this.deps.settings.refreshTtlMs),
      revokedAt: null,
      revokedReason: null,
    });
    const refreshToken = newRefreshToken();
    refreshTokens.create({ tokenHash: hashToken(refreshToken), sessionId: session.id, rotatedAt: null });
    return { session, refreshToken };
  }

  private async tokens(userId: string, { session, refreshToken }: IssuedSession) {
    const { settings, keys } = this.deps;
    const { kid, key } = await keys.current();
    const accessToken = await new SignJWT({ typ: ACCESS_TOKEN_USE, sid: session.id })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime(`${settings.accessTtlSeconds}s`)
      .setJti(uuidv7())
      .sign(key);
    return {
      accessToken,
      refreshToken,
      expiresIn: settings.accessTtlSeconds,
      refreshExpireTime: toTimestamp(session.expiresAt),
    };
  }
}

interface IssuedSession {
  session: Session;
  refreshToken: string;
}

function newRefreshToken(): string {
  return randomBytes(32).toString("base64url");
}

function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
