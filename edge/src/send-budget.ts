// The per-user send budget, one for every transport: REST and tRPC sends at the edge and
// Send frames at the socket tier count against the same key in the same rate limiter
// (Redis when REDIS_URL is set, the process's shared in-memory limiter otherwise).
export const SEND_BUDGET_WINDOW_MS = 10_000;

export function sendBudgetKey(userId: string): string {
  return `edge:send:user:${userId}`;
}
