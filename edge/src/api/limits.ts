// Rate limits at the edge: a window per key, Redis-backed when REDIS_URL is set.
import type { Context } from "./context.js";
import { EdgeError } from "./errors.js";

export async function enforceLimit(ctx: Context, key: string, limit: number, windowMs: number): Promise<void> {
  const result = await ctx.limiter.hit(key, limit, windowMs);
  if (!result.allowed) {
    throw new EdgeError("TOO_MANY_REQUESTS", "too many requests; try again later", {
      retryAfterSeconds: Math.max(1, Math.ceil(result.retryAfterMs / 1000)),
    });
  }
}
