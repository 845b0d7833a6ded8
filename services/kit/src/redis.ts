// Redis connections (rate limits, the broker across nodes, presence), from REDIS_URL.
import { Redis } from "ioredis";
import type { Logger } from "./logger.js";

/** While Redis is unreachable ioredis reports every failed reconnection: one log line per this long is enough. */
const ERROR_LOG_INTERVAL_MS = 10_000;

export function createRedis(url: string, name: string, log: Logger): Redis {
  const redis = new Redis(url, {
    connectionName: `parley-${name}`,
    // Fail calls quickly while Redis is away instead of queueing them without bound.
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
  // Without a listener ioredis prints "Unhandled error event" to stderr; it reconnects either way.
  let loggedAt = 0;
  let unlogged = 0;
  redis.on("error", (error: Error) => {
    const now = Date.now();
    if (now - loggedAt < ERROR_LOG_INTERVAL_MS) return void unlogged++;
    log.warn({ err: error, connection: name, ...(unlogged && { errorsSinceLastLine: unlogged }) }, "redis connection error (reconnecting)");
    loggedAt = now;
    unlogged = 0;
  });
  return redis;
}
