// Configuration from the environment, checked by a zod schema at boot.
import { z } from "zod";
import { internalSecretProblem } from "./internal-auth.js";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses `env` with `schema`; throws a ConfigError naming every bad variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const variable = issue.path.join(".") || "(environment)";
    return `${variable}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
}

/** Reusable pieces of env schemas. Empty strings count as unset. */
const unsetIfEmpty = (value: unknown) => (value === "" ? undefined : value);

export const env = {
  /**
   * Hosts the outbound SSRF rules (outbound.ts) let through although they would refuse them:
   * comma-separated "host" (any port, http too, any address) or "host:port" (that port only),
   * lower-cased, empty entries dropped.
   */
  allowedHosts: () =>
    z.preprocess(
      unsetIfEmpty,
      z
        .string()
        .default("")
        .transform((value) =>
          value
            .split(",")
            .map((host) => host.trim().toLowerCase())
            .filter(Boolean),
        ),
    ),
  port: (fallback: number) => z.preprocess(unsetIfEmpty, z.coerce.number().int().min(0).max(65535).default(fallback)),
  /** host:port of another service. */
  address: (fallback: string) =>
    z.preprocess(unsetIfEmpty, z.string().regex(/^[^\s:/]+:\d{1,5}$/, "expected host:port").default(fallback)),
  optionalUrl: (protocols: string[]) =>
    z.preprocess(
      unsetIfEmpty,
      z
        .string()
        .url()
        .refine((value) => protocols.some((p) => value.startsWith(`${p}:`)), `expected a ${protocols.join(" or ")} URL`)
        .optional(),
    ),
  milliseconds: (fallback: number) => z.preprocess(unsetIfEmpty, z.coerce.number().int().positive().default(fallback)),
  /** An interface address to listen on (IPv4, IPv6 or a host name; no port). */
  bindAddress: (fallback: string) =>
    z.preprocess(unsetIfEmpty, z.string().regex(/^[\w.:-]+$/, "an address such as 127.0.0.1 or 0.0.0.0, without a port").default(fallback)),
  /** The secret every Parley process signs and checks internal calls with (required: no default). */
  internalSecret: () =>
    z.preprocess(
      unsetIfEmpty,
      z.string({ error: "required: the secret shared by every Parley process (make one with: openssl rand -base64 48)" }).superRefine((value, ctx) => {
        const problem = internalSecretProblem(value);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
    ),
  logLevel: () =>
    z.preprocess(unsetIfEmpty, z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info")),
};

/** Variables every service reads. */
export function serviceEnvShape(defaultPort: number) {
  return {
    PORT: env.port(defaultPort),
    /** Loopback unless set: a process run by hand is reachable only from this machine (the image sets 0.0.0.0). */
    BIND_ADDRESS: env.bindAddress("127.0.0.1"),
    /** Proves a caller is a Parley process (see internal-auth.ts); `npm start` makes one per start. */
    INTERNAL_AUTH_SECRET: env.internalSecret(),
    /** PostgreSQL server; without it the service keeps its data in embedded PGlite under DATA_DIR. */
    DATABASE_URL: env.optionalUrl(["postgres", "postgresql"]),
    DATA_DIR: z.preprocess(unsetIfEmpty, z.string().default("./data")),
    REDIS_URL: env.optionalUrl(["redis", "rediss"]),
    /** Prefix of every Redis key and channel: lets several Parley installs (or test runs) share one Redis. */
    REDIS_PREFIX: z.preprocess(unsetIfEmpty, z.string().regex(/^[\w:.-]{1,64}$/, "letters, digits, '_', ':', '.' or '-'").default("parley:")),
    LOG_LEVEL: env.logLevel(),
    SHUTDOWN_GRACE_MS: env.milliseconds(10_000),
  };
}
