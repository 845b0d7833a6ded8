// LiveClient's heartbeat (issue 16: "Live" stayed on while the browser was offline): a socket that
// answers nothing to a ping is given up, dropConnection gives it up at once (the browser's offline
// event), and reconnectNow comes back without waiting out the backoff. A fake WebSocket: no server.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LiveClient, type WebSocketLike } from "@parley/client";

class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  binaryType = "";
  readyState = 1;
  sent: string[] = [];
  closed = false;
  onopen: ((event: unknown) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  constructor() {
    FakeSocket.all.push(this);
  }
  send(data: string | Uint8Array): void {
    this.sent.push(String(data));
  }
  close(): void {
    this.closed = true;
    this.readyState = 3;
  }
  deliver(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  hello(): void {
    this.deliver({ hello: { userId: "u1", tokenExpiresAtMs: String(Date.now() + 3_600_000), nodeId: "n1" } });
  }
}

const pings = (socket: FakeSocket) => socket.sent.filter((s) => s.includes('"ping"')).length;

let client: LiveClient;
beforeEach(() => {
  vi.useFakeTimers();
  FakeSocket.all = [];
  client = new LiveClient({
    url: "ws://test/ws",
    getToken: async () => "token",
    WebSocket: FakeSocket as unknown as never,
    backoff: { baseMs: 60_000, maxMs: 60_000 },
    heartbeatMs: 1_000,
    heartbeatTimeoutMs: 500,
  });
});
afterEach(() => {
  client.close();
  vi.useRealTimers();
});

async function connected(): Promise<FakeSocket> {
  const before = FakeSocket.all.length;
  await vi.waitFor(() => expect(FakeSocket.all.length).toBe(before + 1));
  const socket = FakeSocket.all.at(-1)!;
  socket.hello();
  expect(client.connectionState).toBe("live");
  return socket;
}

describe("LiveClient heartbeat", () => {
  it("pings a quiet socket and gives it up when no answer comes in time", async () => {
    client.connect();
    const socket = await connected();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(pings(socket)).toBe(1);
    await vi.advanceTimersByTimeAsync(499);
    expect(client.connectionState).toBe("live");
    await vi.advanceTimersByTimeAsync(1);
    expect(client.connectionState).toBe("reconnecting");
    expect(socket.closed).toBe(true);
  });

  it("stays live while the server answers", async () => {
    client.connect();
    const socket = await connected();
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(1_000);
      socket.deliver({ pong: { nonce: "x" } });
    }
    expect(pings(socket)).toBe(5);
    expect(client.connectionState).toBe("live");
  });

  it("dropConnection gives the socket up at once; reconnectNow opens a new one without the backoff", async () => {
    client.connect();
    const first = await connected();
    client.dropConnection();
    expect(client.connectionState).toBe("reconnecting");
    expect(first.closed).toBe(true);
    // The backoff is a minute; reconnectNow does not wait for it.
    client.reconnectNow();
    const second = await connected();
    expect(second).not.toBe(first);
  });
});
