import { env, serviceEnvShape } from "@parley/kit";
import { z } from "zod";
import { ACCESS_TOKEN_TTL_SECONDS, DEFAULT_AUDIENCE, DEFAULT_ISSUER } from "@parley/kit/tokens";

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const authEnv = z.object({
  ...serviceEnvShape(3001),
  USER_SERVICE_ADDR: env.address("127.0.0.1:3002"),
  AUTH_ISSUER: z.string().min(1).default(DEFAULT_ISSUER),
  AUTH_AUDIENCE: z.string().min(1).default(DEFAULT_AUDIENCE),
  ACCESS_TOKEN_TTL_SECONDS: positiveInt(ACCESS_TOKEN_TTL_SECONDS),
  REFRESH_TOKEN_TTL_DAYS: positiveInt(30),
  /** Failed logins allowed per account, and per client address, in LOGIN_FAILURE_WINDOW_SECONDS. */
  LOGIN_FAILURES_PER_ACCOUNT: positiveInt(10),
  LOGIN_FAILURES_PER_ADDRESS: positiveInt(50),
  LOGIN_FAILURE_WINDOW_SECONDS: positiveInt(15 * 60),
  /** argon2id cost; never below OWASP's minimum (19456 KiB, 2 passes). */
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(19_456).default(19_456),
  ARGON2_TIME_COST: z.coerce.number().int().min(2).default(2),
});
export type AuthEnv = z.infer<typeof authEnv>;

/** The settings AuthService needs, with their defaults (tests start from these). */
export function authSettings(config: AuthEnv) {
  return {
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    accessTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshTtlMs: config.REFRESH_TOKEN_TTL_DAYS * 24 * 3600 * 1000,
    loginLimits: {
      perAccount: config.LOGIN_FAILURES_PER_ACCOUNT,
      perAddress: config.LOGIN_FAILURES_PER_ADDRESS,
      windowMs: config.LOGIN_FAILURE_WINDOW_SECONDS * 1000,
    },
    argon2: { memoryCost: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST, parallelism: 1 },
  };
}
export type AuthSettings = ReturnType<typeof authSettings>;
