// Configuration from the environment, checked by a zod schema at boot.
import { z } from "zod";

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
  logLevel: () =>
    z.preprocess(unsetIfEmpty, z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info")),
};

/** Variables every service reads. */
export function serviceEnvShape(defaultPort: number) {
  return {
    PORT: env.port(defaultPort),
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
