// Fixed-window counters for rate limits: in memory on one node, in Redis when
// REDIS_URL is set so that every replica sees the same counts.
import type { Redis } from "ioredis";
import type { Logger } from "./logger.js";
import { createRedis } from "./redis.js";

export interface RateLimitResult {
  /** False once the count in the window has passed the limit. */
  allowed: boolean;
  count: number;
  /** Time until the window ends. */
  retryAfterMs: number;
}

export interface RateLimiter {
  /** Counts one event for `key` in a window of `windowMs` and says whether it is within `limit`. */
  hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult>;
  /** Reads the count without adding to it. */
  peek(key: string, limit: number): Promise<RateLimitResult>;
  reset(key: string): Promise<void>;
  /** Takes back one event counted by `hit` in the current window (never below zero). */
  refund(key: string): Promise<void>;
  close(): Promise<void>;
}

/** Redis-backed when `redisUrl` is set (shared by every replica), in memory otherwise. */
export function createRateLimiter(redisUrl: string | undefined, log: Logger, redisPrefix = "parley:"): RateLimiter {
  return redisUrl
    ? new RedisRateLimiter(createRedis(redisUrl, "rate-limit", log), { owned: true, prefix: `${redisPrefix}rl:` })
    : new MemoryRateLimiter();
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepEveryMs = 60_000) {
    this.sweeper = setInterval(() => this.sweep(), sweepEveryMs);
    this.sweeper.unref();
  }

  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { count: 0, endsAt: now + windowMs };
      this.windows.set(key, window);
    }
    window.count++;
    return { allowed: window.count <= limit, count: window.count, retryAfterMs: window.endsAt - now };
  }

  async peek(key: string, limit: number): Promise<RateLimitResult> {
    const now = Date.now();
    const window = this.windows.get(key);
    if (!window || window.endsAt <= now) return { allowed: true, count: 0, retryAfterMs: 0 };
    return { allowed: window.count < limit, count: window.count, retryAfterMs: window.endsAt - now };
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  async refund(key: string): Promise<void> {
    const window = this.windows.get(key);
    if (window && window.endsAt > Date.now() && window.count > 0) window.count--;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}

// INCR, start the window on the first hit, and return the count with the time left.
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}`;

// DECR only a live window's positive count: a refund must not create a key or go below zero.
const REFUND_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return count`;

export class RedisRateLimiter implements RateLimiter {
  private readonly owned: boolean;
  private readonly prefix: string;

  /** `owned`: close() also closes the Redis connection. */
  constructor(
    private readonly redis: Redis,
    options: { owned?: boolean; prefix?: string } = {},
  ) {
    this.owned = options.owned ?? false;
    this.prefix = options.prefix ?? "parley:rl:";
  }

  async close(): Promise<void> {
    if (this.owned) await this.redis.quit().catch(() => this.redis.disconnect());
  }

  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    const [count, ttl] = (await this.redis.eval(HIT_SCRIPT, 1, this.prefix + key, String(windowMs))) as [number, number];
    return { allowed: count <= limit, count, retryAfterMs: ttl };
  }

  async peek(key: string, limit: number): Promise<RateLimitResult> {
    const [value, ttl] = await this.redis.multi().get(this.prefix + key).pttl(this.prefix + key).exec().then((replies) =>
      (replies ?? []).map(([error, reply]) => {
        if (error) throw error;
        return reply;
      }),
    );
    const count = Number(value ?? 0);
    return { allowed: count < limit, count, retryAfterMs: Math.max(0, Number(ttl)) };
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }

  async refund(key: string): Promise<void> {
    await this.redis.eval(REFUND_SCRIPT, 1, this.prefix + key);
  }
}
