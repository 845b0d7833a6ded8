// The sending side of the WebSocket scenarios, in the runner's process: an
// open-loop schedule (message k is due at start + k/rate whatever happened to
// earlier ones; latency is measured from that due time, so a late generator
// shows as latency, never hides it), the publishers of each target, and the
// probes: a few subscribers that check every message they get.
import { LiveClient } from "@parley/client";
import { offeredSubprotocols } from "@parley/client/protocol";
import { io as socketIo, type Socket as SioSocket } from "socket.io-client";
import WebSocket from "ws";
import { latencyHistogram, type Histogram } from "./stats.js";
import { clock, readStamp, Subscriber, SubscriberStats, type Dialect, type Endpoint } from "./ws-subscriber.js";
import { wireConnect, type WireSocket } from "./ws-wire.js";

// ---- the schedule ----

export interface ScheduleResult {
  sent: number;
  /** The schedule's window: from the first due time to the last send, and at least total ÷ rate, ms. */
  elapsedMs: number;
  /** Largest delay of a send after its due time, ms (timer granularity is ~1 ms). */
  maxLagMs: number;
  /** Sends more than 10 ms late. */
  late: number;
}

/** Sends `rate` messages per second for `durationMs`, open loop; `send(k, dueUs)` must not block. */
export function openLoop(options: { rate: number; durationMs: number; send(k: number, dueUs: number): void; flush(): void }): Promise<ScheduleResult> {
  const total = Math.max(1, Math.round((options.rate * options.durationMs) / 1000));
  const intervalUs = 1e6 / options.rate;
  const startUs = clock.nowUs() + 2_000;
  let k = 0;
  let maxLagUs = 0;
  let late = 0;
  return new Promise((resolve) => {
    const tick = () => {
      let now = clock.nowUs();
      while (k < total) {
        const due = startUs + k * intervalUs;
        if (due > now) break;
        const lag = now - due;
        if (lag > maxLagUs) maxLagUs = lag;
        if (lag > 10_000) late++;
        options.send(k, due);
        k++;
        if ((k & 63) === 0) now = clock.nowUs();
      }
      options.flush();
      if (k >= total) {
        // The schedule's window is total × interval (each message has its interval), not the time to
        // the last send: at one message per run the latter would be ~0 and every rate infinite.
        const windowMs = Math.max(clock.nowUs() - startUs, total * intervalUs) / 1000;
        resolve({ sent: k, elapsedMs: windowMs, maxLagMs: maxLagUs / 1000, late });
        return;
      }
      const waitMs = (startUs + k * intervalUs - clock.nowUs()) / 1000;
      if (waitMs >= 1) setTimeout(tick, Math.floor(waitMs));
      else setImmediate(tick);
    };
    setTimeout(tick, 2);
  });
}

// ---- publishers ----

export interface Publisher {
  /** Sends one message to `room` (a topic name, or a Parley room id). */
  publish(room: string, body: string, dueUs: number): void;
  /** End of a schedule tick: write what was batched. */
  flush(): void;
  /** Messages the server accepted since the last reset, per room (Parley: acknowledged; others: sent). */
  accepted: Map<string, number>;
  /** Parley: sends not yet acknowledged. */
  outstanding(): number;
  /** Parley: due time → ack latency. */
  ackLatency: Histogram;
  errors: SubscriberStats;
  reset(): void;
  close(): void;
}

function openWire(endpoint: Endpoint, path: string, protocols: string[] | undefined, onFrame: (ws: WireSocket, buffer: Buffer, start: number, end: number) => void, errors: SubscriberStats, ready?: (ws: WireSocket, buffer: Buffer, start: number, end: number) => boolean): Promise<WireSocket> {
  return new Promise((resolve, reject) => {
    let opened = false;
    wireConnect(
      { host: endpoint.host, port: endpoint.port, path, protocols },
      {
        open(ws) {
          if (!ready) {
            opened = true;
            resolve(ws);
          }
        },
        frame(ws, _opcode, buffer, start, end) {
          if (!opened && ready) {
            if (ready(ws, buffer, start, end)) {
              opened = true;
              resolve(ws);
            }
            return;
          }
          onFrame(ws, buffer, start, end);
        },
        close(_ws, code, reason, failure) {
          if (!opened) reject(new Error(`publisher: ${failure ?? `closed ${code} ${reason}`}`));
          else errors.error(`publisher closed ${code}`, reason);
        },
      },
    );
  });
}

abstract class BasePublisher implements Publisher {
  accepted = new Map<string, number>();
  ackLatency = latencyHistogram();
  errors = new SubscriberStats();
  protected sockets: WireSocket[] = [];
  private corked = false;

  abstract publish(room: string, body: string, dueUs: number): void;

  protected cork(ws: WireSocket): void {
    if (!this.corked) {
      for (const s of this.sockets) s.tcp.cork();
      this.corked = true;
    }
    void ws;
  }

  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    for (const s of this.sockets) s.tcp.uncork();
  }

  outstanding(): number {
    return 0;
  }

  reset(): void {
    this.accepted.clear();
    this.ackLatency.reset();
    this.errors.reset();
  }

  close(): void {
    for (const s of this.sockets) s.close(1000, "done");
  }
}

/** The baselines' text protocol: "p <room> <body>" on one connection. */
export class PlainPublisher extends BasePublisher {
  static async open(endpoint: Endpoint): Promise<PlainPublisher> {
    const publisher = new PlainPublisher();
    publisher.sockets.push(await openWire(endpoint, "/", undefined, () => undefined, publisher.errors));
    return publisher;
  }

  publish(room: string, body: string): void {
    const ws = this.sockets[0]!;
    this.cork(ws);
    ws.sendText(`p ${room} ${body}`);
    this.accepted.set(room, (this.accepted.get(room) ?? 0) + 1);
  }
}

/** Socket.IO: the event `42["p","<room>","<body>"]` on one engine.io WebSocket. */
export class SioPublisher extends BasePublisher {
  static async open(endpoint: Endpoint): Promise<SioPublisher> {
    const publisher = new SioPublisher();
    const ws = await openWire(
      endpoint,
      "/socket.io/?EIO=4&transport=websocket",
      undefined,
      (socket, buffer, start) => {
        if (buffer[start] === 0x32) socket.sendText("3"); // heartbeat
      },
      publisher.errors,
      (socket, buffer, start) => {
        if (buffer[start] === 0x30) socket.sendText("40"); // engine.io open → socket.io CONNECT
        return buffer[start] === 0x34 && buffer[start + 1] === 0x30; // CONNECT answered
      },
    );
    publisher.sockets.push(ws);
    return publisher;
  }

  publish(room: string, body: string): void {
    const ws = this.sockets[0]!;
    this.cork(ws);
    ws.sendText(`42["p","${room}","${body}"]`);
    this.accepted.set(room, (this.accepted.get(room) ?? 0) + 1);
  }
}

/**
 * Parley's real send path: `send` frames (parley.v1.json) on sockets of a member of the
 * rooms, each socket kept under the per-socket frame limit (40/s of SOCKET_FRAMES_PER_SECOND=50),
 * acknowledged with the stored message once the message service has committed it.
 */
export class ParleyPublisher extends BasePublisher {
  private readonly pending = new Map<string, { room: string; dueUs: number }>();
  private next = 0;
  private refs = 0;
  private readonly run = Math.random().toString(36).slice(2, 8);

  private constructor(
    private readonly endpoints: Endpoint[],
    private readonly token: string,
  ) {
    super();
  }

  static async open(endpoints: Endpoint[], token: string, sockets: number): Promise<ParleyPublisher> {
    const publisher = new ParleyPublisher(endpoints, token);
    await publisher.ensure(sockets);
    return publisher;
  }

  /** At least `count` sockets (spread over the endpoints). */
  async ensure(count: number): Promise<void> {
    while (this.sockets.length < count) {
      const batch = Array.from({ length: Math.min(50, count - this.sockets.length) }, (_, i) =>
        openWire(
          this.endpoints[(this.sockets.length + i) % this.endpoints.length]!,
          "/ws",
          offeredSubprotocols("json", this.token),
          (_ws, buffer, start, end) => this.answer(buffer.toString("utf8", start, end)),
          this.errors,
        ),
      );
      this.sockets.push(...(await Promise.all(batch)));
    }
  }

  get socketCount(): number {
    return this.sockets.length;
  }

  publish(room: string, body: string, dueUs: number): void {
    const ws = this.sockets[this.next++ % this.sockets.length]!;
    this.cork(ws);
    const ref = String(++this.refs);
    this.pending.set(ref, { room, dueUs });
    // Bodies are ASCII without quotes or backslashes: no escaping needed.
    ws.sendText(`{"ref":"${ref}","send":{"roomId":"${room}","clientMsgId":"b${this.run}-${ref}","body":"${body}"}}`);
  }

  override outstanding(): number {
    return this.pending.size;
  }

  /** Forgets sends that were never answered (after a timeout), returning how many. */
  abandon(): number {
    const n = this.pending.size;
    this.pending.clear();
    return n;
  }

  private answer(text: string): void {
    // Only ack and error frames matter here; hello and the like are skipped without parsing.
    if (!text.startsWith('{"ack"') && !text.startsWith('{"error"')) return;
    const frame = JSON.parse(text) as { ack?: { ref: string; message?: { roomId: string } }; error?: { ref: string; code: string; message: string } };
    const ref = frame.ack?.ref ?? frame.error?.ref ?? "";
    const sent = this.pending.get(ref);
    if (!sent) return;
    this.pending.delete(ref);
    if (frame.ack) {
      this.accepted.set(sent.room, (this.accepted.get(sent.room) ?? 0) + 1);
      this.ackLatency.recordValue(Math.min(119_000_000, Math.max(1, clock.nowUs() - sent.dueUs)));
    } else {
      this.errors.error(`send refused ${frame.error!.code}`, frame.error!.message);
    }
  }
}

// ---- probes ----

/** A subscriber on a target's own client library, checked like the wire probes. */
interface LibraryProbe {
  rooms: string[];
  ready: Promise<void>;
  counts: Map<string, number>;
  close(): void;
}

function libraryProbe(
  dialect: Dialect,
  endpoint: Endpoint,
  rooms: string[],
  token: string | undefined,
  stats: SubscriberStats,
): LibraryProbe {
  const counts = new Map<string, number>();
  const got = (body: string, room?: string) => {
    const buffer = Buffer.from(body, "latin1");
    const stamp = readStamp(buffer, 0, buffer.length);
    if (stamp > 0) stats.record(stamp, clock.nowUs());
    const name = room ?? body.split("|")[2] ?? "";
    counts.set(name, (counts.get(name) ?? 0) + 1);
  };
  if (dialect === "parley") {
    // @parley/client's LiveClient over the `ws` package, JSON encoding (as the web app).
    const client = new LiveClient({
      url: `ws://${endpoint.host}:${endpoint.port}/ws`,
      getToken: async () => token!,
      WebSocket: WebSocket as unknown as ConstructorParameters<typeof LiveClient>[0]["WebSocket"],
      encoding: "json",
    });
    const live = new Set<string>();
    const ready = new Promise<void>((resolve, reject) => {
      client.on("live", ({ roomId }) => {
        live.add(roomId);
        if (live.size === rooms.length) resolve();
      });
      client.on("roomClosed", ({ roomId, code }) => reject(new Error(`LiveClient probe: ${roomId} refused (${code})`)));
    });
    client.on("message", (message) => got(message.body, message.roomId));
    client.on("error", (error) => stats.error(`LiveClient ${error.code}`, error.message));
    for (const room of rooms) client.subscribe(room);
    client.connect();
    return { rooms, ready, counts, close: () => client.close() };
  }
  if (dialect === "sio") {
    // socket.io-client itself, WebSocket transport only.
    const socket: SioSocket = socketIo(`http://${endpoint.host}:${endpoint.port}`, { transports: ["websocket"], reconnection: false });
    socket.on("m", (body: string) => got(body));
    socket.on("connect_error", (error) => stats.error("socket.io-client connect_error", error.message));
    const ready = new Promise<void>((resolve) => {
      socket.on("connect", async () => {
        await Promise.all(rooms.map((room) => socket.emitWithAck("s", room)));
        resolve();
      });
    });
    return { rooms, ready, counts, close: () => socket.close() };
  }
  // uWS and ws baselines: a `ws` package client.
  const socket = new WebSocket(`ws://${endpoint.host}:${endpoint.port}/`, { perMessageDeflate: false });
  const ready = new Promise<void>((resolve, reject) => {
    let oks = 0;
    socket.on("open", () => {
      for (const room of rooms) socket.send(`s ${room}`);
    });
    socket.on("message", (data: Buffer) => {
      const text = data.toString("latin1");
      if (text.startsWith("ok ")) {
        if (++oks === rooms.length) resolve();
      } else got(text);
    });
    socket.on("error", reject);
  });
  return { rooms, ready, counts, close: () => socket.close() };
}

export interface ProbeResult {
  probes: number;
  received: number;
  missing: number;
  extra: number;
  duplicates: number;
  gaps: number;
}

/**
 * Probes: `wire` subscribers on the minimal client (every message timestamped and numbered,
 * duplicates caught) plus one on the target's own client library (LiveClient, socket.io-client, ws).
 * `rooms[i]` are the rooms of probe i.
 */
export class ProbeSet {
  readonly stats = new SubscriberStats();
  private wire: Subscriber[] = [];
  private library: LibraryProbe | undefined;

  static async open(options: { dialect: Dialect; endpoint: Endpoint; rooms: string[][]; libraryRooms: string[]; token?: string }): Promise<ProbeSet> {
    const set = new ProbeSet();
    const live: Promise<void>[] = [];
    for (const rooms of options.rooms) {
      live.push(
        new Promise<void>((resolve, reject) => {
          const subscriber = new Subscriber(
            { dialect: options.dialect, endpoints: [options.endpoint], rooms, token: options.token, sample: true },
            { stats: set.stats, reconnect: false, keepNumbers: true, onLive: (_s, failure) => (failure ? reject(new Error(`probe: ${failure}`)) : resolve()) },
          );
          set.wire.push(subscriber);
          subscriber.connect();
        }),
      );
    }
    set.library = libraryProbe(options.dialect, options.endpoint, options.libraryRooms, options.token, set.stats);
    live.push(set.library.ready);
    await Promise.race([Promise.all(live), new Promise((_, reject) => setTimeout(() => reject(new Error("probes not live after 30 s")), 30_000))]);
    return set;
  }

  reset(): void {
    for (const s of this.wire) s.resetCounts();
    this.library?.counts.clear();
    this.stats.reset();
  }

  /** Every probe's count per room against `expected`. */
  check(expected: Map<string, number>): ProbeResult {
    const result: ProbeResult = { probes: this.wire.length + 1, received: 0, missing: 0, extra: 0, duplicates: 0, gaps: 0 };
    const compare = (room: string, got: number) => {
      const want = expected.get(room) ?? 0;
      result.received += got;
      if (got < want) result.missing += want - got;
      else result.extra += got - want;
    };
    for (const s of this.wire) {
      s.spec.rooms.forEach((room, i) => compare(room, s.counts[i]!));
      result.duplicates += s.duplicates;
      result.gaps += s.gaps;
    }
    if (this.library) {
      for (const room of this.library.rooms) compare(room, this.library.counts.get(room) ?? 0);
    }
    return result;
  }

  /** Waits until every probe has its expected messages (or the timeout). */
  async settle(expected: Map<string, number>, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (this.check(expected).missing === 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return false;
  }

  close(): void {
    for (const s of this.wire) s.close();
    this.library?.close();
  }
}
