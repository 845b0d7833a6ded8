// One subscriber of a WebSocket fan-out benchmark, on the minimal wire client:
// it connects, subscribes to its rooms in the target's dialect, and counts every
// message it gets (per room), checking Parley's seq order (gaps, duplicates) and,
// when sampled, the latency from the send time stamped in the message body.
//
// Dialects:
// - "parley": Parley's socket protocol, binary (parley.v1.proto); messageCreated frames
//   are walked by hand (seq, room, body) so that counting costs no protobuf decoding.
// - "plain": the baselines' own protocol (bare uWebSockets.js, ws): text "s <room>" →
//   "ok <room>"; every frame starting with "@" is a message.
// - "sio": the Socket.IO 4 wire protocol (engine.io v4 over a raw WebSocket, as
//   socket.io-client speaks it with transports: ["websocket"]): open "0{…}" → "40" →
//   "40{…}", join with an acknowledged event `42<n>["s","<room>"]` → `43<n>[]`,
//   heartbeat "2" → "3", messages `42["m","<body>"]`.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema } from "@parley/proto/socket/v1/socket_pb";
import { CloseCode, isRetryable, offeredSubprotocols } from "@parley/client/protocol";
import { latencyHistogram, type Histogram } from "./stats.js";
import { OPCODE, wireConnect, type WireSocket } from "./ws-wire.js";

export type Dialect = "parley" | "plain" | "sio";

export interface Endpoint {
  host: string;
  port: number;
}

export interface SubscriberSpec {
  dialect: Dialect;
  /** Where to connect; reconnects go to the next one in turn (a client-side list of nodes). */
  endpoints: Endpoint[];
  rooms: string[];
  /** Parley access token. */
  token?: string;
  /** Record the latency of every message (probes; one bulk socket in k). */
  sample: boolean;
}

/** Microseconds since the epoch, comparable across processes (offset set by the clock calibration). */
export const clock = {
  offsetUs: 0,
  nowUs(): number {
    return Math.round((performance.timeOrigin + performance.now()) * 1000) + clock.offsetUs;
  },
};

/**
 * A message body: "@@<send time, µs since the epoch, 16 digits>|<message no>|<room>|" padded
 * with "x" to `size` bytes. The send time is the *scheduled* one (open loop).
 */
export function messageBody(size: number, sendUs: number, messageNo: number, room: string): string {
  const head = `@@${String(Math.round(sendUs)).padStart(16, "0")}|${messageNo}|${room}|`;
  return head.length >= size ? head : head + "x".repeat(size - head.length);
}

const AT_AT = Buffer.from("@@");

/** The send time stamped in a body found in buffer[start..end), or -1. */
export function readStamp(buffer: Buffer, start: number, end: number): number {
  const at = buffer.indexOf(AT_AT, start);
  if (at < 0 || at + 18 > end) return -1;
  let value = 0;
  for (let i = at + 2; i < at + 18; i++) {
    const digit = buffer[i]! - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** The fields of a Parley messageCreated frame found by walkMessageCreated (reused: no allocation). */
const walked = { seq: 0, roomStart: 0, roomEnd: 0, bodyStart: 0, bodyEnd: 0 };
let at = 0;

function varint(buffer: Buffer, end: number): number {
  let value = 0;
  let scale = 1;
  while (at < end) {
    const byte = buffer[at++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
  return -1;
}

/**
 * ServerFrame{message_created(10): MessageEvent{message(1): Message{room_id(2), seq(3), body(5), …}}}
 * walked without decoding; false if the frame is not one.
 */
function walkMessageCreated(buffer: Buffer, start: number, end: number): boolean {
  at = start;
  if (buffer[at++] !== 0x52) return false; // field 10, length-delimited
  const eventLength = varint(buffer, end);
  if (eventLength < 0) return false;
  const eventEnd = Math.min(end, at + eventLength);
  if (buffer[at++] !== 0x0a) return false; // field 1, length-delimited
  const messageLength = varint(buffer, eventEnd);
  const messageEnd = Math.min(eventEnd, at + messageLength);
  walked.seq = -1;
  walked.bodyStart = walked.bodyEnd = walked.roomStart = walked.roomEnd = 0;
  while (at < messageEnd) {
    const tag = varint(buffer, messageEnd);
    const field = tag >>> 3;
    switch (tag & 7) {
      case 0: {
        const value = varint(buffer, messageEnd);
        if (field === 3) walked.seq = value;
        break;
      }
      case 2: {
        const length = varint(buffer, messageEnd);
        if (field === 2) (walked.roomStart = at), (walked.roomEnd = at + length);
        else if (field === 5) (walked.bodyStart = at), (walked.bodyEnd = at + length);
        at += length;
        break;
      }
      case 1:
        at += 8;
        break;
      case 5:
        at += 4;
        break;
      default:
        return walked.seq >= 0;
    }
  }
  return walked.seq >= 0;
}

/** What every subscriber of one process adds to. */
export class SubscriberStats {
  latency: Histogram = latencyHistogram();
  /** Latencies that came out negative (clock offset larger than the latency): recorded as 1 µs. */
  negative = 0;
  errors = new Map<string, number>();
  firstErrors: string[] = [];

  error(kind: string, detail: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
    if (this.firstErrors.length < 5) this.firstErrors.push(`${kind}: ${detail.slice(0, 300)}`);
  }

  record(sendUs: number, nowUs: number): void {
    const value = nowUs - sendUs;
    if (value < 0) this.negative++;
    this.latency.recordValue(Math.min(119_000_000, Math.max(1, value)));
  }

  reset(): void {
    this.latency.reset();
    this.negative = 0;
    this.errors.clear();
    this.firstErrors = [];
  }
}

export interface SubscriberHooks {
  stats: SubscriberStats;
  /** Every room is subscribed (or refused: `failed`). */
  onLive?(subscriber: Subscriber, failed?: string): void;
  /** The connection ended while wanted. */
  onLost?(subscriber: Subscriber, code: number): void;
  /** Reconnect after a lost connection, resuming with afterSeq (Parley) — LiveClient's policy. */
  reconnect: boolean;
  /** Close codes that are not errors (ws-storm: 1012 restart, 1006 a node killed). */
  expectedCloses?: number[];
  /** Keep the message numbers per room (probes: exact per-message accounting). */
  keepNumbers?: boolean;
  /** Parley: subscriptions refused with a retryable code are asked again (full jitter over 1 s × 2^retry, at most 15 s), this many times. */
  subscribeRetries?: number;
}

const SIO_MESSAGE = Buffer.from('42["m"');

export class Subscriber {
  ws: WireSocket | undefined;
  /** Messages received (live or replayed) since the last reset, all rooms. */
  count = 0;
  readonly counts: number[];
  /** Parley: highest seq received per room; -1 until known. */
  readonly lastSeq: number[];
  /** Message numbers seen per room (keepNumbers only). */
  readonly numbers: Set<number>[] | undefined;
  gaps = 0;
  duplicates = 0;
  live = false;
  wanted = true;
  /** Connection attempts (the first included), reconnections, failed attempts. */
  attempts = 0;
  reconnects = 0;
  failedAttempts = 0;
  lostAt = 0;
  liveAt = 0;
  private liveRooms = 0;
  private retries = 0;
  private endpoint = 0;
  private backoffAttempt = 0;
  private readonly roomIndex: Map<string, number> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly spec: SubscriberSpec,
    private readonly hooks: SubscriberHooks,
    endpointOffset = 0,
  ) {
    this.counts = spec.rooms.map(() => 0);
    this.lastSeq = spec.rooms.map(() => -1);
    this.numbers = hooks.keepNumbers ? spec.rooms.map(() => new Set<number>()) : undefined;
    this.roomIndex = spec.rooms.length > 1 ? new Map(spec.rooms.map((room, i) => [room, i])) : undefined;
    this.endpoint = endpointOffset % spec.endpoints.length;
  }

  /** Which endpoint the socket is on now (index in spec.endpoints). */
  get endpointIndex(): number {
    return this.endpoint;
  }

  connect(): void {
    this.attempts++;
    this.live = false;
    this.liveRooms = 0;
    const { host, port } = this.spec.endpoints[this.endpoint]!;
    const { dialect } = this.spec;
    const path = dialect === "parley" ? "/ws" : dialect === "sio" ? "/socket.io/?EIO=4&transport=websocket" : "/";
    const protocols = dialect === "parley" ? offeredSubprotocols("proto", this.spec.token ?? "") : undefined;
    this.ws = wireConnect(
      { host, port, path, protocols },
      {
        open: (ws) => this.opened(ws),
        frame: (ws, opcode, buffer, start, end) => {
          if (ws === this.ws) this.frame(opcode, buffer, start, end);
        },
        close: (ws, code, reason, failure) => {
          if (ws === this.ws) this.closed(code, reason, failure);
        },
      },
    );
  }

  resetCounts(): void {
    this.count = 0;
    this.counts.fill(0);
    this.gaps = 0;
    this.duplicates = 0;
    for (const set of this.numbers ?? []) set.clear();
  }

  close(): void {
    this.wanted = false;
    clearTimeout(this.timer);
    this.ws?.close(1000, "done");
  }

  private opened(ws: WireSocket): void {
    const { dialect, rooms } = this.spec;
    if (dialect === "parley") {
      rooms.forEach((roomId, i) => {
        const afterSeq = this.lastSeq[i]! >= 0 ? BigInt(this.lastSeq[i]!) : undefined;
        ws.sendBinary(toBinary(ClientFrameSchema, create(ClientFrameSchema, { ref: `s${i}`, frame: { case: "subscribe", value: { roomId, afterSeq } } })));
      });
    } else if (dialect === "plain") {
      ws.tcp.cork();
      for (const room of rooms) ws.sendText(`s ${room}`);
      ws.tcp.uncork();
    }
    // sio: the server speaks first (the engine.io open packet).
  }

  private roomLive(index: number): void {
    if (index < 0) return;
    this.liveRooms++;
    if (this.liveRooms === this.spec.rooms.length) {
      this.live = true;
      this.liveAt = performance.now();
      this.backoffAttempt = 0;
      this.hooks.onLive?.(this);
    }
  }

  private message(index: number, buffer: Buffer, bodyStart: number, bodyEnd: number): void {
    this.count++;
    this.counts[index]!++;
    if (this.spec.sample) {
      const stamp = readStamp(buffer, bodyStart, bodyEnd);
      if (stamp > 0) this.hooks.stats.record(stamp, clock.nowUs());
    }
    if (this.numbers) {
      const text = buffer.toString("latin1", bodyStart, Math.min(bodyEnd, bodyStart + 80));
      const number = Number(text.split("|")[1]);
      const set = this.numbers[index]!;
      if (set.has(number)) this.duplicates++;
      set.add(number);
    }
  }

  private frame(opcode: number, buffer: Buffer, start: number, end: number): void {
    switch (this.spec.dialect) {
      case "parley":
        return this.parleyFrame(opcode, buffer, start, end);
      case "plain":
        if (buffer[start] === 0x40) {
          const index = this.roomIndex ? this.roomOfBody(buffer, start, end) : 0;
          return this.message(index, buffer, start, end);
        }
        if (buffer[start] === 0x6f && buffer[start + 1] === 0x6b) {
          return this.roomLive(this.roomIndex ? (this.roomIndex.get(buffer.toString("latin1", start + 3, end)) ?? -1) : 0);
        }
        return this.hooks.stats.error("unexpected frame", buffer.toString("utf8", start, Math.min(end, start + 100)));
      case "sio":
        return this.sioFrame(buffer, start, end);
    }
  }

  /** The room named in a body ("@@t|n|room|…"), for subscribers of several rooms. */
  private roomOfBody(buffer: Buffer, start: number, end: number): number {
    const text = buffer.toString("latin1", start, Math.min(end, start + 120));
    return this.roomIndex?.get(text.split("|")[2] ?? "") ?? 0;
  }

  private parleyFrame(opcode: number, buffer: Buffer, start: number, end: number): void {
    if (opcode !== OPCODE.binary) return this.hooks.stats.error("text frame on parley.v1.proto", buffer.toString("utf8", start, Math.min(end, start + 100)));
    const first = buffer[start];
    if (first === 0x52) {
      if (!walkMessageCreated(buffer, start, end)) return this.hooks.stats.error("undecodable messageCreated", "");
      const index = this.roomIndex ? (this.roomIndex.get(buffer.toString("latin1", walked.roomStart, walked.roomEnd)) ?? 0) : 0;
      const seq = walked.seq;
      const last = this.lastSeq[index]!;
      if (last >= 0) {
        if (seq <= last) {
          this.duplicates++;
          return;
        }
        if (seq > last + 1) this.gaps += seq - last - 1;
      }
      this.lastSeq[index] = seq;
      return this.message(index, buffer, walked.bodyStart, walked.bodyEnd);
    }
    // live (13), error (22, two-byte tag 0xb2 0x01): rare, decoded in full. Others (hello, presence, ack) are not counted.
    if (first === 0x6a || (first === 0xb2 && buffer[start + 1] === 0x01)) {
      const frame = fromBinary(ServerFrameSchema, buffer.subarray(start, end));
      if (frame.frame.case === "live") {
        const index = this.roomIndex ? (this.roomIndex.get(frame.frame.value.roomId) ?? -1) : 0;
        if (index >= 0 && this.lastSeq[index]! < 0) this.lastSeq[index] = Number(frame.frame.value.lastSeq);
        return this.roomLive(index);
      }
      if (frame.frame.case === "error") {
        const { code, message, roomId, ref } = frame.frame.value;
        this.hooks.stats.error(`error frame ${code}`, `${message} (room ${roomId})`);
        if (this.live || !ref.startsWith("s")) return;
        if (isRetryable(code) && this.retries < (this.hooks.subscribeRetries ?? 0)) {
          this.retries++;
          const ws = this.ws;
          const index = Number(ref.slice(1));
          this.timer = setTimeout(() => {
            if (ws !== this.ws || !ws?.isOpen) return;
            const afterSeq = this.lastSeq[index]! >= 0 ? BigInt(this.lastSeq[index]!) : undefined;
            ws.sendBinary(toBinary(ClientFrameSchema, create(ClientFrameSchema, { ref, frame: { case: "subscribe", value: { roomId: this.spec.rooms[index]!, afterSeq } } })));
          }, Math.random() * Math.min(15_000, 1_000 * 2 ** this.retries));
          return;
        }
        this.hooks.onLive?.(this, `${code}: ${message}`);
      }
    }
  }

  private sioFrame(buffer: Buffer, start: number, end: number): void {
    const b0 = buffer[start];
    const ws = this.ws!;
    if (b0 === 0x34 /* 4: engine.io message */) {
      const b1 = buffer[start + 1];
      if (b1 === 0x32 /* 2: socket.io EVENT */ && buffer.compare(SIO_MESSAGE, 0, SIO_MESSAGE.length, start, start + SIO_MESSAGE.length) === 0) {
        const index = this.roomIndex ? this.roomOfBody(buffer, start + 8, end) : 0;
        return this.message(index, buffer, start + 8, end);
      }
      if (b1 === 0x30 /* 0: CONNECT answered */) {
        ws.tcp.cork();
        this.spec.rooms.forEach((room, i) => ws.sendText(`42${i}["s","${room}"]`));
        ws.tcp.uncork();
        return;
      }
      if (b1 === 0x33 /* 3: ACK */) {
        let index = 0;
        for (let i = start + 2; i < end && buffer[i]! >= 0x30 && buffer[i]! <= 0x39; i++) index = index * 10 + buffer[i]! - 0x30;
        return this.roomLive(index);
      }
      return this.hooks.stats.error("unexpected socket.io packet", buffer.toString("utf8", start, Math.min(end, start + 100)));
    }
    if (b0 === 0x32 /* 2: ping */) return ws.sendText("3");
    if (b0 === 0x30 /* 0: open */) return ws.sendText("40");
    if (b0 === 0x31 /* 1: close */) return;
    this.hooks.stats.error("unexpected engine.io packet", buffer.toString("utf8", start, Math.min(end, start + 100)));
  }

  private closed(code: number, reason: string, failure: string | undefined): void {
    const wasLive = this.live;
    this.live = false;
    if (!this.wanted) return;
    if (failure) {
      this.failedAttempts++;
      if (!this.hooks.reconnect) this.hooks.stats.error("connect failed", failure);
    } else if (!(this.hooks.expectedCloses ?? []).includes(code)) {
      this.hooks.stats.error(`closed ${code}`, reason);
    }
    if (wasLive || !failure) {
      this.lostAt = performance.now();
      this.hooks.onLost?.(this, code);
    }
    if (!this.hooks.reconnect) {
      if (!wasLive) this.hooks.onLive?.(this, failure ?? `closed ${code} ${reason}`);
      return;
    }
    // LiveClient's policy: full jitter over 250 ms × 2^attempt (at most 15 s); a restart (1012) retries at once.
    if (code === CloseCode.SERVICE_RESTART) this.backoffAttempt = Math.min(this.backoffAttempt, 1);
    const ceiling = Math.min(15_000, 250 * 2 ** this.backoffAttempt);
    this.backoffAttempt++;
    this.endpoint = (this.endpoint + 1) % this.spec.endpoints.length;
    this.timer = setTimeout(() => {
      if (!this.wanted) return;
      this.reconnects++;
      this.connect();
    }, Math.random() * ceiling);
  }
}
