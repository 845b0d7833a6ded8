// LiveClient: one connection to the socket tier that survives anything.
// It reconnects with jittered backoff, resubscribes every room with the last
// seq it has (so the server replays what was missed), delivers each message
// exactly once and in seq order, retries sends with the same clientMsgId until
// they are acknowledged, and renews its token before it expires. A send the
// server refuses for what it is (invalid, or a frame too large) fails at once
// and is never sent again; only transient refusals are retried.
import { create, fromBinary, fromJsonString, toBinary, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import type { Message } from "@parley/proto/message/v1/message_pb";
import { PresenceState } from "@parley/proto/events/v1/events_pb";
import { ClientFrameSchema, ServerFrameSchema, type ServerFrame } from "@parley/proto/socket/v1/socket_pb";
import { Emitter } from "./emitter.js";
import { CloseCode, isRetryable, offeredSubprotocols, type Encoding } from "./protocol.js";

export { PresenceState };
export type { Message };

export { CloseCode };

export type ConnectionState = "connecting" | "live" | "reconnecting" | "closed";
export type { Encoding };

/** The subset of the WebSocket API the client needs (browsers' WebSocket, or the `ws` package in Node). */
export interface WebSocketLike {
  binaryType: string;
  readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface LiveClientOptions {
  /** ws(s)://host:port/ws, or several nodes: after a failed or lost connection the next one is tried. */
  url: string | string[];
  /** Returns a valid access token (refreshing it if needed). */
  getToken: () => Promise<string>;
  encoding?: Encoding;
  WebSocket?: WebSocketConstructor;
  /** Backoff between reconnects: base and ceiling in ms (full jitter). */
  backoff?: { baseMs: number; maxMs: number };
  /** How long a send may stay unacknowledged (across reconnects) before it fails. */
  sendTimeoutMs?: number;
}

export class LiveError extends Error {
  override name = "LiveError";
  constructor(
    readonly code: string,
    message: string,
    /** The field of the request the error is about (INVALID_ARGUMENT), if the server named one. */
    readonly field = "",
  ) {
    super(message);
  }
}

/** The code of a send failed because its frame is larger than the server takes (permanent). */
export const FRAME_TOO_LARGE = "FRAME_TOO_LARGE";

export interface LiveEvents {
  state: ConnectionState;
  /** A new message, exactly once per (room, seq), in seq order per room. */
  message: Message;
  edited: Message;
  deleted: Message;
  /** Replay of the room is over; `lastSeq` is what the client has now. */
  live: { roomId: string; lastSeq: bigint };
  typing: { roomId: string; userId: string };
  presence: { userId: string; state: PresenceState };
  readMarker: { roomId: string; lastReadSeq: bigint };
  member: { kind: "joined" | "left" | "kicked" | "roleChanged"; roomId: string; userId: string; byUserId: string };
  roomUpdated: { roomId: string };
  /** A room the server stopped sending (kicked, left, or it refused the subscription). */
  roomClosed: { roomId: string; code: string; message: string };
  /** All sessions ended: the user must sign in again. */
  signedOut: { reason: string };
  error: LiveError;
}

interface RoomState {
  /** Highest seq delivered to the app; undefined until known. */
  lastSeq?: bigint;
  wanted: boolean;
  live: boolean;
}

interface PendingSend {
  ref: string;
  frame: MessageInitShape<typeof ClientFrameSchema>;
  resolve: (value: ServerFrame) => void;
  reject: (error: LiveError) => void;
  deadline: number;
  /** Sends are replayed after a reconnect; other requests fail with the connection. */
  retry: boolean;
  /** Size of the frame last written, and the socket it went on (to find the culprit of a 1009 close). */
  written?: { bytes: number; socket: WebSocketLike };
}

const OPEN = 1;

export class LiveClient extends Emitter<LiveEvents> {
  private socket?: WebSocketLike;
  private state: ConnectionState = "closed";
  private readonly rooms = new Map<string, RoomState>();
  private readonly pending = new Map<string, PendingSend>();
  private attempt = 0;
  private refCounter = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private reauthTimer?: ReturnType<typeof setTimeout>;
  private stopped = true;
  private urlIndex = 0;
  /** The server's frame limit, from its Hello (0: not told). */
  private maxFrameBytes = 0;
  private readonly encoding: Encoding;
  private readonly WebSocketImpl: WebSocketConstructor;

  constructor(private readonly options: LiveClientOptions) {
    super();
    this.encoding = options.encoding ?? "json";
    const impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!impl) throw new Error("no WebSocket implementation: pass options.WebSocket");
    this.WebSocketImpl = impl;
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  /** The highest seq delivered for a room. */
  lastSeq(roomId: string): bigint | undefined {
    return this.rooms.get(roomId)?.lastSeq;
  }

  connect(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.open();
  }

  /** Closes for good: pending requests fail, nothing reconnects. */
  close(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.reauthTimer);
    this.socket?.close(1000, "bye");
    this.socket = undefined;
    for (const pending of this.pending.values()) pending.reject(new LiveError("CANCELLED", "the client was closed"));
    this.pending.clear();
    this.setState("closed");
  }

  /**
   * Starts receiving a room. With `afterSeq`, everything after it is replayed first
   * (pass the last seq of the history you have); later reconnects resume on their own.
   */
  subscribe(roomId: string, afterSeq?: bigint): void {
    const room = this.rooms.get(roomId) ?? { wanted: true, live: false };
    room.wanted = true;
    if (afterSeq !== undefined && (room.lastSeq === undefined || afterSeq > room.lastSeq)) room.lastSeq = afterSeq;
    this.rooms.set(roomId, room);
    if (this.socket?.readyState === OPEN) this.sendSubscribe(roomId, room);
  }

  unsubscribe(roomId: string): void {
    this.rooms.delete(roomId);
    if (this.socket?.readyState === OPEN) this.write({ ref: this.nextRef(), frame: { case: "unsubscribe", value: { roomId } } });
  }

  /** Sends a message; retried with the same clientMsgId until acknowledged. Resolves to the stored message. */
  async send(roomId: string, body: string, options: { clientMsgId?: string; replyToId?: string } = {}): Promise<Message> {
    const clientMsgId = options.clientMsgId ?? newClientMsgId();
    const ack = await this.request({ case: "send", value: { roomId, body, clientMsgId, replyToId: options.replyToId ?? "" } }, true);
    return ackMessage(ack);
  }

  async edit(messageId: string, body: string): Promise<Message> {
    return ackMessage(await this.request({ case: "edit", value: { messageId, body } }, true));
  }

  async delete(messageId: string): Promise<Message> {
    return ackMessage(await this.request({ case: "delete", value: { messageId } }, true));
  }

  async markRead(roomId: string, seq: bigint): Promise<bigint> {
    const ack = await this.request({ case: "markRead", value: { roomId, seq } }, true);
    return ack.frame.case === "ack" ? ack.frame.value.lastReadSeq : 0n;
  }

  /** Tells the room you are typing (the server throttles it). */
  typing(roomId: string): void {
    if (this.socket?.readyState === OPEN) this.write({ ref: "", frame: { case: "typing", value: { roomId } } });
  }

  // ---- connection ----

  private async open(): Promise<void> {
    if (this.stopped) return;
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    let token: string;
    try {
      token = await this.options.getToken();
    } catch (error) {
      this.emit("error", new LiveError("UNAUTHENTICATED", `could not get a token: ${(error as Error).message}`));
      return this.scheduleReconnect();
    }
    if (this.stopped) return;
    const urls = Array.isArray(this.options.url) ? this.options.url : [this.options.url];
    const socket = new this.WebSocketImpl(urls[this.urlIndex % urls.length]!, offeredSubprotocols(this.encoding, token));
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onmessage = (event) => {
      if (this.socket === socket) this.receive(event.data);
    };
    socket.onclose = (event) => {
      if (this.socket === socket) this.lost(event.code, event.reason, socket);
    };
    socket.onerror = () => undefined; // onclose follows
  }

  private lost(code: number, reason: string, socket: WebSocketLike): void {
    this.socket = undefined;
    if (code === CloseCode.FRAME_TOO_LARGE) this.failLargestWrite(socket, reason);
    this.urlIndex++; // another node, if there are several
    clearTimeout(this.reauthTimer);
    for (const room of this.rooms.values()) room.live = false;
    // Requests that are not sends cannot be known to have happened: fail them.
    for (const [ref, pending] of this.pending) {
      if (!pending.retry) {
        pending.reject(new LiveError("UNAVAILABLE", "connection lost"));
        this.pending.delete(ref);
      }
    }
    if (code === CloseCode.SESSIONS_REVOKED) {
      this.emit("signedOut", { reason });
      return this.close();
    }
    if (this.stopped) return;
    // After a restart or a slow-consumer close, come back at once (with jitter); otherwise back off.
    if (code === CloseCode.SERVICE_RESTART || code === CloseCode.SLOW_CONSUMER) this.attempt = Math.min(this.attempt, 1);
    this.scheduleReconnect();
  }

  /**
   * The server closed the socket over a frame too large (a server whose limit the Hello did not
   * tell, or a proxy's): the culprit is the largest request written on that socket. It fails
   * for good instead of being resent after every reconnect.
   */
  private failLargestWrite(socket: WebSocketLike, reason: string): void {
    let culprit: PendingSend | undefined;
    for (const pending of this.pending.values()) {
      if (pending.written?.socket === socket && pending.written.bytes > (culprit?.written?.bytes ?? 0)) culprit = pending;
    }
    if (!culprit) return;
    this.pending.delete(culprit.ref);
    culprit.reject(new LiveError(FRAME_TOO_LARGE, reason || "the frame is larger than the server takes"));
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.setState("reconnecting");
    const { baseMs, maxMs } = this.options.backoff ?? { baseMs: 250, maxMs: 15_000 };
    const ceiling = Math.min(maxMs, baseMs * 2 ** this.attempt);
    this.attempt++;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.open(), Math.random() * ceiling);
  }

  private onHello(expiresAtMs: bigint): void {
    this.attempt = 0;
    for (const [roomId, room] of this.rooms) if (room.wanted) this.sendSubscribe(roomId, room);
    for (const pending of [...this.pending.values()]) this.writeRequest(pending);
    this.setState("live");
    this.scheduleReauth(Number(expiresAtMs));
  }

  private scheduleReauth(expiresAtMs: number): void {
    clearTimeout(this.reauthTimer);
    // A minute before expiry (or halfway for short-lived tokens).
    const lead = Math.min(60_000, (expiresAtMs - Date.now()) / 2);
    this.reauthTimer = setTimeout(async () => {
      try {
        const token = await this.options.getToken();
        await this.request({ case: "reauth", value: { token } }, false);
        const [, payload] = token.split(".");
        const exp = payload ? Number(JSON.parse(atobUrl(payload)).exp) * 1000 : NaN;
        if (Number.isFinite(exp)) this.scheduleReauth(exp);
      } catch (error) {
        this.emit("error", new LiveError("UNAUTHENTICATED", `reauth failed: ${(error as Error).message}`));
      }
    }, Math.max(0, expiresAtMs - Date.now() - lead));
  }

  private sendSubscribe(roomId: string, room: RoomState): void {
    room.live = false;
    this.write({ ref: `sub:${roomId}`, frame: { case: "subscribe", value: { roomId, afterSeq: room.lastSeq } } });
  }

  // ---- frames ----

  private receive(data: unknown): void {
    let frame: ServerFrame;
    try {
      frame =
        typeof data === "string"
          ? fromJsonString(ServerFrameSchema, data, { ignoreUnknownFields: true })
          : fromBinary(ServerFrameSchema, new Uint8Array(data as ArrayBuffer));
    } catch (error) {
      this.emit("error", new LiveError("DATA_LOSS", `undecodable frame: ${(error as Error).message}`));
      return;
    }
    const f = frame.frame;
    switch (f.case) {
      case "hello":
        this.maxFrameBytes = f.value.maxFrameBytes;
        return this.onHello(f.value.tokenExpiresAtMs);
      case "messageCreated":
        if (f.value.message) this.onMessage(f.value.message);
        return;
      case "messageEdited":
        if (f.value.message) this.emit("edited", f.value.message);
        return;
      case "messageDeleted":
        if (f.value.message) this.emit("deleted", f.value.message);
        return;
      case "live": {
        const room = this.rooms.get(f.value.roomId);
        if (!room) return;
        if (room.lastSeq === undefined || f.value.lastSeq > room.lastSeq) room.lastSeq = f.value.lastSeq;
        room.live = true;
        this.emit("live", { roomId: f.value.roomId, lastSeq: room.lastSeq });
        return;
      }
      case "typing":
        return this.emit("typing", f.value);
      case "presence":
        return this.emit("presence", { userId: f.value.userId, state: f.value.state });
      case "readMarker":
        return this.emit("readMarker", f.value);
      case "memberJoined":
      case "memberLeft":
      case "memberKicked":
      case "memberRoleChanged": {
        const kind = ({ memberJoined: "joined", memberLeft: "left", memberKicked: "kicked", memberRoleChanged: "roleChanged" } as const)[f.case];
        this.emit("member", { kind, roomId: f.value.roomId, userId: f.value.userId, byUserId: f.value.byUserId });
        return;
      }
      case "roomUpdated":
        return this.emit("roomUpdated", { roomId: f.value.room?.id ?? "" });
      case "ack":
      case "error":
        return this.settle(frame);
      default:
        return;
    }
  }

  /** Delivers in order, once: drops what was seen, and resubscribes from the last seq on a hole. */
  private onMessage(message: Message): void {
    const room = this.rooms.get(message.roomId);
    if (!room) return;
    if (room.lastSeq !== undefined) {
      if (message.seq <= room.lastSeq) return;
      if (message.seq > room.lastSeq + 1n) {
        if (this.socket?.readyState === OPEN) {
          this.write({ ref: "", frame: { case: "unsubscribe", value: { roomId: message.roomId } } });
          this.sendSubscribe(message.roomId, room);
        }
        return;
      }
    }
    room.lastSeq = message.seq;
    this.emit("message", message);
  }

  private settle(frame: ServerFrame): void {
    const f = frame.frame;
    if (f.case !== "ack" && f.case !== "error") return;
    const ref = f.value.ref;
    if (f.case === "error" && ref.startsWith("sub:")) {
      const roomId = ref.slice(4);
      this.rooms.delete(roomId);
      this.emit("roomClosed", { roomId, code: f.value.code, message: f.value.message });
      return;
    }
    const pending = this.pending.get(ref);
    if (!pending) {
      if (f.case === "error") this.emit("error", new LiveError(f.value.code, f.value.message));
      return;
    }
    if (f.case === "ack") {
      this.pending.delete(ref);
      pending.resolve(frame);
      return;
    }
    if (pending.retry && isRetryable(f.value.code) && Date.now() < pending.deadline) {
      // Try again with the same frame (and clientMsgId) after a pause: the server's, if it said one.
      const pause = Math.max(f.value.retryAfterMs, 500) + Math.random() * 1000;
      setTimeout(() => {
        if (this.pending.has(ref) && this.socket?.readyState === OPEN) this.writeRequest(pending);
      }, pause);
      return;
    }
    this.pending.delete(ref);
    pending.reject(new LiveError(f.value.code, f.value.message, f.value.field));
  }

  private request(frame: MessageInitShape<typeof ClientFrameSchema>["frame"], retry: boolean): Promise<ServerFrame> {
    const ref = this.nextRef();
    return new Promise((resolve, reject) => {
      const timeoutMs = this.options.sendTimeoutMs ?? 60_000;
      const pending: PendingSend = { ref, frame: { frame }, resolve, reject, deadline: Date.now() + timeoutMs, retry };
      this.pending.set(ref, pending);
      const timer = setTimeout(() => {
        if (this.pending.delete(ref)) reject(new LiveError("DEADLINE_EXCEEDED", "no answer in time"));
      }, timeoutMs);
      const settle = <T>(fn: (v: T) => void) => (v: T) => {
        clearTimeout(timer);
        fn(v);
      };
      pending.resolve = settle(resolve);
      pending.reject = settle(reject);
      if (this.socket?.readyState === OPEN) this.writeRequest(pending);
      else if (!retry) {
        this.pending.delete(ref);
        pending.reject(new LiveError("UNAVAILABLE", "not connected"));
      }
    });
  }

  /** Writes a request, unless it is larger than the server takes: then it fails for good, unsent. */
  private writeRequest(pending: PendingSend): void {
    const socket = this.socket;
    if (!socket) return;
    const bytes = this.write({ ...pending.frame, ref: pending.ref });
    if (bytes === undefined) {
      this.pending.delete(pending.ref);
      pending.reject(new LiveError(FRAME_TOO_LARGE, `the frame is larger than the server takes (${this.maxFrameBytes} bytes)`));
      return;
    }
    pending.written = { bytes, socket };
  }

  /** Sends a frame and returns its size in bytes, or undefined (unsent) when it exceeds the server's limit. */
  private write(frame: MessageInitShape<typeof ClientFrameSchema>): number | undefined {
    const message = create(ClientFrameSchema, frame);
    const data = this.encoding === "proto" ? toBinary(ClientFrameSchema, message) : toJsonString(ClientFrameSchema, message);
    const bytes = typeof data === "string" ? utf8Length(data) : data.byteLength;
    if (this.maxFrameBytes > 0 && bytes > this.maxFrameBytes) return undefined;
    this.socket?.send(data);
    return bytes;
  }

  private nextRef(): string {
    return `r${++this.refCounter}`;
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }
}

function ackMessage(frame: ServerFrame): Message {
  if (frame.frame.case === "ack" && frame.frame.value.message) return frame.frame.value.message;
  throw new LiveError("INTERNAL", "the server acknowledged without a message");
}

/** A client-chosen id for a send: retries of the same send reuse it. */
export function newClientMsgId(): string {
  const random = globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  return random.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 64);
}

function utf8Length(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}

function atobUrl(segment: string): string {
  const base64 = segment.replace(/-/g, "+").replace(/_/g, "/");
  return globalThis.atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
}
