// Settings shared by the two public processes, the edge and the socket tier:
// where the services are, how tokens are checked, which browser origins may call.
import type { Client } from "@connectrpc/connect";
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from "@parley/auth/claims";
import { createSessionStates } from "@parley/auth/sessions";
import { createAccessTokenVerifier } from "@parley/auth/verify";
import { env } from "@parley/kit";
import type { AuthService } from "@parley/proto/auth/v1/auth_pb";
import { z } from "zod";

export function publicEnvShape(defaultOrigins: string) {
  return {
    AUTH_SERVICE_ADDR: env.address("127.0.0.1:3001"),
    ROOM_SERVICE_ADDR: env.address("127.0.0.1:3003"),
    MESSAGE_SERVICE_ADDR: env.address("127.0.0.1:3004"),
    AUTH_ISSUER: z.string().min(1).default(DEFAULT_ISSUER),
    AUTH_AUDIENCE: z.string().min(1).default(DEFAULT_AUDIENCE),
    /** Comma-separated browser origins allowed besides the server's own. */
    CORS_ORIGINS: z
      .string()
      .default(defaultOrigins)
      .transform((v) => v.split(",").map((o) => o.trim()).filter(Boolean)),
    /** How long "this token's session is active" is trusted before the auth service is asked again. */
    SESSION_CHECK_TTL_MS: z.coerce.number().int().min(0).max(10_000).default(1_000),
  };
}

/** Verifies access tokens with the auth service's published keys. */
export function verifierFor(auth: Client<typeof AuthService>, config: { AUTH_ISSUER: string; AUTH_AUDIENCE: string }) {
  return createAccessTokenVerifier({
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    loadKeys: async () => (await auth.getJwks({})).keys.map((k) => ({ ...k })),
  });
}

/** Says whether a token's session has ended (logout, logout-all, reused refresh token), cached briefly. */
export function sessionStatesFor(auth: Client<typeof AuthService>, config: { SESSION_CHECK_TTL_MS: number }) {
  return createSessionStates({
    ttlMs: config.SESSION_CHECK_TTL_MS,
    check: async (sessionIds) => (await auth.checkSessions({ sessionIds })).endedSessionIds,
  });
}
