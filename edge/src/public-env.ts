// Settings shared by the two public processes, the edge and the socket tier:
// where the services are, how tokens are checked, which browser origins may call.
import type { Client } from "@connectrpc/connect";
import { ACCESS_TOKEN_TTL_SECONDS, DEFAULT_AUDIENCE, DEFAULT_ISSUER } from "@parley/kit/tokens";
import { createSessionStates } from "@parley/kit/tokens";
import { createAccessTokenVerifier } from "@parley/kit/tokens";
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
    /** The auth service's access-token TTL: tokens claiming a longer life are refused. */
    ACCESS_TOKEN_TTL_SECONDS: z.preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().positive().default(ACCESS_TOKEN_TTL_SECONDS)),
    /** Comma-separated browser origins allowed besides the server's own. */
    CORS_ORIGINS: z
      .string()
      .default(defaultOrigins)
      .transform((v) => v.split(",").map((o) => o.trim()).filter(Boolean)),
    /**
     * The origin(s) browsers load the web app from (comma-separated), allowed like CORS_ORIGINS.
     * Unset: the edge takes http://localhost:<its port> and http://127.0.0.1:<its port>.
     */
    PUBLIC_ORIGIN: z.preprocess(
      (v) => (v === "" ? undefined : v),
      z
        .string()
        .transform((v, ctx) => {
          const origins = v.split(",").map((o) => o.trim()).filter(Boolean);
          for (const origin of origins) {
            if (!/^https?:\/\/[^/?#\s]+$/i.test(origin.replace(/\/$/, ""))) {
              ctx.addIssue({ code: "custom", message: `${origin}: expected an origin such as https://chat.example.com` });
              return z.NEVER;
            }
          }
          return origins.map((o) => new URL(o).origin);
        })
        .optional(),
    ),
    /** How long "this token's session is active" is trusted before the auth service is asked again. */
    SESSION_CHECK_TTL_MS: z.coerce.number().int().min(0).max(10_000).default(1_000),
  };
}

/** The default public origins of a server on `port` reached on this machine. */
export function loopbackOrigins(port: number | string): string[] {
  return [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
}

/**
 * The one origin rule of the edge and the socket tier: a browser's Origin must be one of the
 * configured ones. Never compared with Host: under DNS rebinding a hostile page's Origin
 * and Host are the same hostile name. No Origin at all is a non-browser client: allowed.
 */
export function isAllowedOrigin(origin: string | undefined, allowed: ReadonlySet<string>): boolean {
  return !origin || allowed.has(origin);
}

/** Verifies access tokens with the auth service's published keys. */
export function verifierFor(auth: Client<typeof AuthService>, config: { AUTH_ISSUER: string; AUTH_AUDIENCE: string; ACCESS_TOKEN_TTL_SECONDS: number }) {
  return createAccessTokenVerifier({
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    maxLifetimeSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
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
