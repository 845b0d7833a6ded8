import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger, createRateLimiter, type RateLimiter } from "../src/index.js";
import { TEST_REDIS_URL } from "../src/testing.js";

const testLog = createLogger("test", "silent");
const backends: [string, () => RateLimiter][] = [["in memory", () => createRateLimiter(undefined, testLog)]];
if (TEST_REDIS_URL) backends.push(["on Redis", () => createRateLimiter(TEST_REDIS_URL, testLog)]);

describe.each(backends)("rate limiter %s", (_name, make) => {
  const limiter = make();
  afterAll(() => limiter.close());

  it("allows up to the limit in a window, then refuses with the time left", async () => {
    const key = `test:${randomUUID()}`;
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await limiter.hit(key, 3, 60_000));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
    expect(results[3]!.retryAfterMs).toBeGreaterThan(55_000);
    expect(results[3]!.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect((await limiter.peek(key, 3)).allowed).toBe(false);
  });

  it("starts a new window when the old one ends, and reset clears it", async () => {
    const key = `test:${randomUUID()}`;
    await limiter.hit(key, 1, 200);
    expect((await limiter.hit(key, 1, 200)).allowed).toBe(false);
    await new Promise((r) => setTimeout(r, 250));
    expect((await limiter.hit(key, 1, 200)).allowed).toBe(true);
    await limiter.reset(key);
    expect((await limiter.peek(key, 1)).count).toBe(0);
  });

  it("refund takes back one hit, never below zero and never for a key that has none", async () => {
    const key = `test:${randomUUID()}`;
    await limiter.refund(key);
    expect((await limiter.peek(key, 2)).count).toBe(0);
    await limiter.hit(key, 2, 60_000);
    await limiter.hit(key, 2, 60_000);
    await limiter.refund(key);
    expect((await limiter.peek(key, 2)).count).toBe(1);
    await limiter.refund(key);
    await limiter.refund(key);
    expect((await limiter.peek(key, 2)).count).toBe(0);
    expect((await limiter.hit(key, 2, 60_000)).count).toBe(1);
  });
});
