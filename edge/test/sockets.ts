// Raw WebSocket helpers for socket-tier tests: frames as the protocol defines them.
import { once } from "node:events";
import WebSocket from "ws";

export interface Frame {
  [key: string]: any;
}

export class RawSocket {
  readonly frames: Frame[] = [];
  closed?: { code: number; reason: string };
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data, isBinary) => {
      if (!isBinary) this.frames.push(JSON.parse(data.toString()));
      this.wake();
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  static async open(url: string, token?: string, options: { origin?: string; protocols?: string[] } = {}): Promise<RawSocket> {
    const protocols = options.protocols ?? ["parley.v1.json", ...(token ? [`parley.auth.${token}`] : [])];
    const ws = new WebSocket(url, protocols, options.origin ? { origin: options.origin } : {});
    const socket = new RawSocket(ws);
    await once(ws, "open");
    await socket.next((f) => f.hello);
    return socket;
  }

  /** The HTTP status an upgrade was refused with. */
  static async refusal(url: string, protocols: string[], origin?: string): Promise<number> {
    const ws = new WebSocket(url, protocols, origin ? { origin } : {});
    return new Promise((resolve, reject) => {
      ws.on("unexpected-response", (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on("open", () => reject(new Error("the upgrade was accepted")));
      ws.on("error", () => undefined);
    });
  }

  send(frame: Frame): void {
    this.ws.send(JSON.stringify(frame));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits for the first frame (from now on, or already received) matching `match`. */
  async next(match: (f: Frame) => unknown, timeoutMs = 10_000, from = 0): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.slice(from).find((f) => match(f));
      if (found) return found;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting`);
      if (Date.now() > deadline) throw new Error(`timed out waiting; last frames: ${this.frames.slice(-6).map(describe).join(", ")}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(200, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async request(frame: Frame, timeoutMs = 10_000): Promise<Frame> {
    this.send(frame);
    return this.next((f) => (f.ack?.ref ?? f.error?.ref) === frame.ref, timeoutMs);
  }

  /**
   * A ping answered: every frame the server queued for this socket before it answered is in
   * `frames` (one connection delivers in order). What a test checks before asserting that
   * something did not arrive.
   */
  async roundTrip(timeoutMs = 10_000): Promise<void> {
    const nonce = `rt-${++this.pings}`;
    this.send({ ref: nonce, ping: { nonce } });
    await this.next((f) => f.pong?.nonce === nonce, timeoutMs);
  }

  private pings = 0;

  messages(roomId?: string): Frame[] {
    return this.frames.filter((f) => f.messageCreated && (!roomId || f.messageCreated.message.roomId === roomId)).map((f) => f.messageCreated.message);
  }

  async waitClosed(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("socket did not close");
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.closed;
  }

  close(): void {
    this.ws.close();
  }
}

/** A frame in a few words, for failure messages (bodies can be long). */
function describe(frame: Frame): string {
  const [kind, value] = Object.entries(frame).find(([key]) => key !== "position") ?? ["?", {}];
  const seq = value?.message?.seq ?? value?.lastSeq;
  return `${kind}${value?.ref ? `(${value.ref})` : ""}${seq ? `#${seq}` : ""}${value?.code ? `:${value.code}` : ""}`;
}

/** Waits until `condition` holds (checked every 25 ms), failing after `timeoutMs`: state a client's events build up. */
export async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}
