// The per-socket frame rate limit: a token bucket of `rate` frames a second that holds four
// seconds' worth. A frame over the limit is refused; a client that keeps flooding (more than ten
// times the rate refused within one second) is to be closed.
export type FrameVerdict = "pass" | "refuse" | "close";

export class FrameLimiter {
  private tokens: number;
  private refilledAt: number;
  /** Frames refused in the current one-second window. */
  private refused = 0;
  private refusedWindow: number;

  constructor(
    private readonly rate: number,
    now = Date.now(),
  ) {
    this.tokens = rate * 4;
    this.refilledAt = now;
    this.refusedWindow = now;
  }

  take(now = Date.now()): FrameVerdict {
    this.tokens = Math.min(this.rate * 4, this.tokens + ((now - this.refilledAt) / 1000) * this.rate);
    this.refilledAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return "pass";
    }
    if (now - this.refusedWindow >= 1000) {
      this.refusedWindow = now;
      this.refused = 0;
    }
    return ++this.refused > this.rate * 10 ? "close" : "refuse";
  }
}
