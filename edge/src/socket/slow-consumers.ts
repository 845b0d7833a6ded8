// Slow consumers: "any slow receiver can DOS your whole server" (uWebSockets.js). A socket whose
// unsent bytes pass the limit is closed with the slow-consumer code (the client resumes from its
// position); a replay waits for drain between pages, and gives up on a socket that never drains.
import { CLOSE } from "./protocol.js";
import type { Socket, SocketState } from "./state.js";

const DRAIN_TIMEOUT_MS = 10_000;

export class SlowConsumers {
  constructor(private readonly limitBytes: number) {}

  /** Run every 250 ms over the node's open sockets. */
  sweep(sockets: Iterable<Socket>): void {
    for (const ws of sockets) {
      if (ws.getBufferedAmount() > this.limitBytes) ws.end(CLOSE.slowConsumer, "slow consumer: resume from your position");
    }
  }

  /** Resolves when the socket's buffer is below half the limit (at once if it is); closes it after ten seconds without drain. */
  async paced(ws: Socket): Promise<void> {
    const state = ws.getUserData();
    if (state.closed || ws.getBufferedAmount() < this.limitBytes / 2) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (!state.closed) ws.end(CLOSE.slowConsumer, "slow consumer: resume from your position");
        resolve();
      }, DRAIN_TIMEOUT_MS);
      timer.unref();
      state.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** uWebSockets.js's `drain` handler. */
  drained(ws: Socket): void {
    if (ws.getBufferedAmount() < this.limitBytes / 2) this.release(ws.getUserData());
  }

  /** Lets every replay waiting on the socket go on (it drained, or closed). */
  release(state: SocketState): void {
    for (const resolve of state.drainWaiters.splice(0)) resolve();
  }
}
