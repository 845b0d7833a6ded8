// Redis connections (rate limits, the broker across nodes), from REDIS_URL.
import { Redis } from "ioredis";

export function createRedis(url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: `parley-${name}`,
    // Fail calls quickly while Redis is away instead of queueing them without bound.
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
}
