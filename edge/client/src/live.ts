// LiveClient: one connection to the socket tier that survives anything.
// It reconnects with jittered backoff, resubscribes every room with its stream
// position (so the server replays every change it missed: new messages, edits,
// deletions, member and room changes, each once), delivers each new message
// exactly once, recovers from a hole in either lane of a room's stream, tells the
// app when its position is ahead of the room (a restored database), retries sends
// with the same clientMsgId until they are acknowledged, and renews its token
// before it expires. A send the server refuses for what it is (invalid, or a
// frame too large) fails at once and is never sent again; only transient
// refusals are retried.
import { create, fromBinary, fromJsonString, toBinary, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { SearchOrder, type Message, type SearchMessagesResponse } from "@parley/proto/message/v1/message_pb";
import { Role, type Membership, type Room } from "@parley/proto/room/v1/room_pb";
import { PresenceState } from "@parley/proto/events/v1/events_pb";
import { Reason, type Notification } from "@parley/proto/notify/v1/notify_pb";
import { ClientFrameSchema, ServerFrameSchema, type ServerFrame, type StreamPosition } from "@parley/proto/socket/v1/socket_pb";
import { Emitter } from "./emitter.js";
import { CloseCode, isRetryable, offeredSubprotocols, type Encoding } from "./protocol.js";

export { PresenceState, Reason, Role };
export type { Membership, Message, Notification, Room, SearchMessagesResponse };

/** A search (issue 17; the query syntax: docs/search.md). */
export interface SearchOptions {
  /** 1-50; left out, 20. */
  limit?: number;
  /** The previous page's nextPageToken (same query and options). */
  pageToken?: string;
  order?: "relevance" | "newest";
  /** The IANA time zone of the query's dates; left out, UTC. */
  timeZone?: string;
  /** Only these rooms (at most 100). */
  roomIds?: string[];
}

/**
 * Where a client stands in a room's stream (socket.proto StreamPosition): the newest change it has
 * applied in each lane. `messages`: Message.change (ListMessages.last_change to start from);
 * `room`: membership and room changes (Room.last_change to start from).
 */
export interface Position {
  messages: bigint;
  room: bigint;
}

/**
 * What `subscribe` starts a room from: the position of the state the app holds (from the API: the
 * newest page's last_change, the room's last_change) and the newest seq it has (seeds the
 * exactly-once delivery of new messages). Any of them may be left out.
 */
export interface SubscribeFrom {
  messages?: bigint;
  room?: bigint;
  lastSeq?: bigint;
}

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
  /**
   * Heartbeat: while live, a ping goes out when nothing was heard for this long (ms), and a socket
   * that answers nothing within `heartbeatTimeoutMs` after it is taken for lost (a network that
   * went away silently closes nothing). 0 (the default): no heartbeat.
   */
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
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
  /**
   * A message new to the client, exactly once per (room, seq), in its current state (a replay sends
   * a message created and edited or deleted while the client was away once, as it is now). In seq
   * order while live; a replay sends messages in the order of their latest change.
   */
  message: Message;
  /** A message the client had changed (edited): its state now. Apply it as an upsert by id. */
  edited: Message;
  /** A message the client had was deleted: its tombstone. Apply it as an upsert by id. */
  deleted: Message;
  /** Replay of the room is over; `lastSeq` is what the client has now, `position` where the stream stands (unset by a server without positions). */
  live: { roomId: string; lastSeq: bigint; position?: Position };
  typing: { roomId: string; userId: string };
  presence: { userId: string; state: PresenceState };
  readMarker: { roomId: string; lastReadSeq: bigint };
  /** A membership change; `membership` is the member's as it is after it (joined, role changed). */
  member: { kind: "joined" | "left" | "kicked" | "roleChanged"; roomId: string; userId: string; byUserId: string; membership?: Membership };
  /** The room changed (renamed, topic, archived): `room` as it is after the change. */
  roomUpdated: { roomId: string; room?: Room };
  /**
   * The client's position is ahead of the room (its database was restored from an older backup):
   * drop what you hold of the room and load it afresh, then pass the new page's position to
   * `subscribe`. The client forgot its own position and resubscribed for live events meanwhile.
   */
  reset: { roomId: string };
  /** A room the server stopped sending (kicked, left, or it refused the subscription); `position` is where the client stood, to subscribe again from. */
  roomClosed: { roomId: string; code: string; message: string; position?: Position };
  /**
   * Something notifies the signed-in person (issue 18's in-app channel): a mention, a direct
   * message, a reply in a followed thread, or a message of a room set to "all". It comes on every
   * socket of the person (every tab): show it as a desktop notification only while the tab is
   * hidden, with `tag` = `id` so several tabs show it once; `sound` says whether to play one.
   * Never for the person's own messages. Not replayed after a reconnect (what was missed shows
   * as unread).
   */
  notification: Notification;
  /** All sessions ended: the user must sign in again. */
  signedOut: { reason: string };
  error: LiveError;
}

type Lane = "messages" | "room";

interface RoomState {
  /** Highest seq delivered to the app; undefined until known. */
  lastSeq?: bigint;
  /** Seqs below lastSeq not delivered yet: a replay sends messages in the order of their latest change, not by seq. */
  missing: Set<bigint>;
  /**
   * Set when the client learnt lastSeq by itself (a Live, or the first message of a subscription
   * from nothing): the seqs below this one were not delivered by it. When the app then tells the
   * newest seq it has, those between are still to deliver.
   */
  unknownBelow?: bigint;
  /** Per lane, the newest change applied; undefined until known. */
  messages?: bigint;
  room?: bigint;
  wanted: boolean;
  /** The replay is over (Live came): each lane must go on without a gap. */
  live: boolean;
  /** A Subscribe was sent on this socket and its Live has not come yet. */
  inFlight: boolean;
  /** Subscribe again (from the current position) when the Live of the one in flight comes. */
  again: boolean;
  /**
   * Subscribed again on the same socket (a hole, or an older position from the app): frames sent
   * before the server read it may still come, so the position moves only at Live.
   */
  recovering: boolean;
}

/** How many undelivered seqs below the newest a room remembers (a replay's disorder is far smaller). */
const MAX_MISSING = 100_000;

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
/** The close code of a socket that was given up without a close from the server. */
const ABNORMAL_CLOSE = 1006;

export class LiveClient extends Emitter<LiveEvents> {
  private socket?: WebSocketLike;
  private state: ConnectionState = "closed";
  private readonly rooms = new Map<string, RoomState>();
  private readonly pending = new Map<string, PendingSend>();
  private attempt = 0;
  private refCounter = 0;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private reauthTimer?: ReturnType<typeof setTimeout>;
  private heartbeatTimer?: ReturnType<typeof setTimeout>;
  private heartbeatDeadline?: ReturnType<typeof setTimeout>;
  private lastHeard = 0;
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

  /**
   * Where the client stands in a room's stream, the position it resumes from: undefined until it
   * knows the message lane (it resumes by seq then); a room lane it does not know yet is 0.
   */
  position(roomId: string): Position | undefined {
    const room = this.rooms.get(roomId);
    if (room?.messages === undefined) return undefined;
    return { messages: room.messages, room: room.room ?? 0n };
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
    this.stopHeartbeat();
    this.socket?.close(1000, "bye");
    this.socket = undefined;
    for (const pending of this.pending.values()) pending.reject(new LiveError("CANCELLED", "the client was closed"));
    this.pending.clear();
    this.setState("closed");
  }

  /**
   * Starts receiving a room. Pass the position of what you hold (`{ messages, room, lastSeq }`: the
   * newest page's last_change and last_seq, the room's last_change): every change after it is
   * replayed first, each once; later reconnects resume on their own from where the client is. A bare
   * seq (the deprecated after_seq) replays the messages after it, and serves until the server tells
   * the position (at Live).
   *
   * For a room the client has already, each lane keeps the lower of the two positions, and when
   * yours is lower (or the client had none) the room is subscribed again from it: a change between
   * your page and the stream is never skipped (replayed changes are upserts, harmless twice).
   */
  subscribe(roomId: string, from?: bigint | SubscribeFrom): void {
    const start: SubscribeFrom = typeof from === "bigint" ? { lastSeq: from } : (from ?? {});
    let room = this.rooms.get(roomId);
    const known = room !== undefined;
    if (!room) {
      room = { missing: new Set(), wanted: true, live: false, inFlight: false, again: false, recovering: false };
      this.rooms.set(roomId, room);
    }
    room.wanted = true;
    if (start.lastSeq !== undefined && start.lastSeq >= 0n) {
      if (room.unknownBelow !== undefined) {
        // The app's newest seq is older than what the client knew of: what lies between is new to it.
        const gap = room.unknownBelow - start.lastSeq - 1n;
        if (gap > 0n && gap + BigInt(room.missing.size) <= MAX_MISSING) {
          for (let seq = start.lastSeq + 1n; seq < room.unknownBelow; seq++) room.missing.add(seq);
        }
        delete room.unknownBelow;
      }
      if (room.lastSeq === undefined || start.lastSeq > room.lastSeq) room.lastSeq = start.lastSeq;
      for (const seq of room.missing) if (seq <= start.lastSeq) room.missing.delete(seq);
    }
    let earlier = false;
    for (const lane of ["messages", "room"] as const) {
      const value = start[lane];
      if (value === undefined || value < 0n) continue;
      const mine = room[lane];
      if (mine === undefined || value < mine) {
        room[lane] = value;
        earlier = true;
      }
    }
    if (this.socket?.readyState !== OPEN) return;
    if (!known) this.sendSubscribe(roomId, room);
    else if (earlier) this.subscribeAgain(roomId, room);
  }

  unsubscribe(roomId: string): void {
    this.rooms.delete(roomId);
    if (this.socket?.readyState === OPEN) this.write({ ref: this.nextRef(), frame: { case: "unsubscribe", value: { roomId } } });
  }

  /**
   * Sends a message; retried with the same clientMsgId until acknowledged. Resolves to the stored message.
   * `fileIds`: files uploaded to the room first (uploadFile), attached in this order; with files the body may be "".
   */
  async send(roomId: string, body: string, options: { clientMsgId?: string; replyToId?: string; fileIds?: string[] } = {}): Promise<Message> {
    const clientMsgId = options.clientMsgId ?? newClientMsgId();
    const ack = await this.request(
      { case: "send", value: { roomId, body, clientMsgId, replyToId: options.replyToId ?? "", fileIds: options.fileIds ?? [] } },
      true,
    );
    return ackMessage(ack);
  }

  async edit(messageId: string, body: string): Promise<Message> {
    return ackMessage(await this.request({ case: "edit", value: { messageId, body } }, true));
  }

  async delete(messageId: string): Promise<Message> {
    return ackMessage(await this.request({ case: "delete", value: { messageId } }, true));
  }

  /**
   * Searches the messages of the rooms the user is in now (issue 17): hits with snippets, per-room
   * counts and the next page's token (empty on the last). Fails with INVALID_ARGUMENT naming the
   * field (query, limit, time_zone, page_token). Not retried: ask again.
   */
  async search(query: string, options: SearchOptions = {}): Promise<SearchMessagesResponse> {
    const ack = await this.request(
      {
        case: "search",
        value: {
          query,
          limit: options.limit ?? 0,
          pageToken: options.pageToken ?? "",
          order: options.order === "newest" ? SearchOrder.NEWEST : options.order === "relevance" ? SearchOrder.RELEVANCE : SearchOrder.UNSPECIFIED,
          timeZone: options.timeZone ?? "",
          roomIds: options.roomIds ?? [],
        },
      },
      false,
    );
    if (ack.frame.case === "ack" && ack.frame.value.search) return ack.frame.value.search;
    throw new LiveError("INTERNAL", "the server acknowledged without search results");
  }

  async markRead(roomId: string, seq: bigint): Promise<bigint> {
    const ack = await this.request({ case: "markRead", value: { roomId, seq } }, true);
    return ack.frame.case === "ack" ? ack.frame.value.lastReadSeq : 0n;
  }

  /** Tells the room you are typing (the server throttles it). */
  typing(roomId: string): void {
    if (this.socket?.readyState === OPEN) this.write({ ref: "", frame: { case: "typing", value: { roomId } } });
  }

  /**
   * Checks the connection now (the network came back, the page woke up): a live socket is pinged
   * and taken for lost if it does not answer in time; otherwise the client reconnects at once
   * instead of waiting out its backoff.
   */
  reconnectNow(): void {
    if (this.stopped) return;
    if (this.socket?.readyState === OPEN) {
      if (this.state === "live") this.ping();
      return;
    }
    if (this.socket) return; // connecting already
    clearTimeout(this.reconnectTimer);
    this.attempt = Math.min(this.attempt, 1);
    void this.open();
  }

  /**
   * The network is gone (the browser's offline event): the socket is given up now rather than when
   * the operating system notices, pending sends wait for the next connection, and the client
   * retries with its backoff (call reconnectNow when the network is back).
   */
  dropConnection(): void {
    const socket = this.socket;
    if (!socket || this.stopped) return;
    this.abandon(socket, ABNORMAL_CLOSE, "offline");
  }

  // ---- heartbeat ----

  private ping(): void {
    const timeoutMs = this.options.heartbeatTimeoutMs ?? 5_000;
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) return;
    this.write({ ref: "", frame: { case: "ping", value: { nonce: `hb${++this.refCounter}` } } });
    if (this.heartbeatDeadline) return;
    this.heartbeatDeadline = setTimeout(() => {
      this.heartbeatDeadline = undefined;
      if (this.socket === socket) this.abandon(socket, ABNORMAL_CLOSE, "no answer to a heartbeat");
    }, timeoutMs);
  }

  private scheduleHeartbeat(): void {
    const every = this.options.heartbeatMs ?? 0;
    if (every <= 0) return;
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatTimer = undefined;
      if (this.state !== "live") return;
      if (Date.now() - this.lastHeard >= every) this.ping();
      this.scheduleHeartbeat();
    }, every);
  }

  private heard(): void {
    this.lastHeard = Date.now();
    clearTimeout(this.heartbeatDeadline);
    this.heartbeatDeadline = undefined;
  }

  private stopHeartbeat(): void {
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.heartbeatDeadline);
    this.heartbeatTimer = undefined;
    this.heartbeatDeadline = undefined;
  }

  /** Gives a socket up without waiting for its close (which a dead network may never deliver). */
  private abandon(socket: WebSocketLike, code: number, reason: string): void {
    socket.onmessage = null;
    socket.onclose = null;
    try {
      socket.close(1000, reason);
    } catch {
      // closing a socket still connecting may throw in some implementations
    }
    this.lost(code, reason, socket);
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
    this.stopHeartbeat();
    if (code === CloseCode.FRAME_TOO_LARGE) this.failLargestWrite(socket, reason);
    this.urlIndex++; // another node, if there are several
    clearTimeout(this.reauthTimer);
    for (const room of this.rooms.values()) {
      room.live = false;
      room.inFlight = false;
      room.again = false;
      room.recovering = false;
    }
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
    this.scheduleHeartbeat();
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

  /**
   * Subscribes from the room's position: both lanes once the message lane is known (an unknown
   * room lane replays from its start), else the deprecated after_seq, else live events only.
   */
  private sendSubscribe(roomId: string, room: RoomState): void {
    room.live = false;
    room.inFlight = true;
    room.again = false;
    const value =
      room.messages !== undefined
        ? { roomId, position: { messages: room.messages, room: room.room ?? 0n } }
        : { roomId, afterSeq: room.lastSeq };
    this.write({ ref: `sub:${roomId}`, frame: { case: "subscribe", value } });
  }

  /**
   * Subscribes again on this socket (the server replays after the position sent, then Live). One
   * Subscribe at a time per room: while one is in flight, the next goes when its Live comes.
   */
  private subscribeAgain(roomId: string, room: RoomState): void {
    room.recovering = true;
    if (room.inFlight) {
      room.again = true;
      room.live = false;
      return;
    }
    this.sendSubscribe(roomId, room);
  }

  /**
   * Whether a frame of a room's stream is to be applied, moving the room's position in its lane.
   * Live, each lane goes on without a gap: a frame already applied is dropped, and a hole (a
   * position beyond the next) subscribes again from the position the client has (the replay brings
   * what is missing, and this frame again). In a replay, positions jump (each changed message comes
   * once, at its latest change) and the client follows them.
   */
  private step(roomId: string, room: RoomState, lane: Lane, position: StreamPosition): boolean {
    const at = position[lane];
    const mine = room[lane];
    if (room.live && mine !== undefined) {
      if (at <= mine) return false;
      if (at === mine + 1n) {
        room[lane] = at;
        return true;
      }
      this.subscribeAgain(roomId, room);
      return true;
    }
    if (!room.recovering && (mine === undefined || at > mine)) room[lane] = at;
    return true;
  }

  /** The room's position is ahead of the room: forget it, tell the app, and go on with live events. */
  private reset(roomId: string, room: RoomState): void {
    delete room.messages;
    delete room.room;
    delete room.lastSeq;
    delete room.unknownBelow;
    room.missing.clear();
    room.live = false;
    room.inFlight = false;
    room.again = false;
    room.recovering = false;
    this.emit("reset", { roomId });
    // The app may have subscribed again from a fresh page already (in its listener).
    if (this.rooms.get(roomId) === room && room.wanted && !room.inFlight && this.socket?.readyState === OPEN) this.sendSubscribe(roomId, room);
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
    this.heard();
    const f = frame.frame;
    switch (f.case) {
      case "hello":
        this.maxFrameBytes = f.value.maxFrameBytes;
        return this.onHello(f.value.tokenExpiresAtMs);
      case "messageCreated":
      case "messageEdited":
      case "messageDeleted":
        if (f.value.message) this.onMessage(f.case, f.value.message, frame.position);
        return;
      case "live": {
        const roomId = f.value.roomId;
        const room = this.rooms.get(roomId);
        if (!room) return;
        if (room.again) {
          // The app gave an older position while this replay ran: replay from it too.
          this.sendSubscribe(roomId, room);
          return;
        }
        room.inFlight = false;
        room.recovering = false;
        if (frame.position) {
          for (const lane of ["messages", "room"] as const) {
            const at = frame.position[lane];
            const mine = room[lane];
            if (mine === undefined || at > mine) room[lane] = at;
          }
        }
        if (room.lastSeq === undefined) room.unknownBelow = f.value.lastSeq + 1n;
        if (room.lastSeq === undefined || f.value.lastSeq > room.lastSeq) room.lastSeq = f.value.lastSeq;
        room.live = true;
        this.emit("live", { roomId, lastSeq: room.lastSeq, ...(frame.position && { position: this.position(roomId) }) });
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
        if (!this.inStream(f.value.roomId, frame.position)) return;
        const { roomId, userId, byUserId, membership } = f.value;
        this.emit("member", { kind, roomId, userId, byUserId, ...(membership && { membership }) });
        return;
      }
      case "roomUpdated": {
        const roomId = f.value.room?.id ?? "";
        if (!this.inStream(roomId, frame.position)) return;
        return this.emit("roomUpdated", { roomId, ...(f.value.room && { room: f.value.room }) });
      }
      case "notification":
        return this.emit("notification", f.value);
      case "ack":
      case "error":
        return this.settle(frame);
      default:
        return;
    }
  }

  /** A room lane frame (member, room): whether to apply it (the room is received, and it is not a repeat). */
  private inStream(roomId: string, position: StreamPosition | undefined): boolean {
    const room = this.rooms.get(roomId);
    if (!room) return true; // not subscribed (yet): membership news still matter to the app
    return position ? this.step(roomId, room, "room", position) : true;
  }

  /**
   * A message frame: a message new to the client goes out as `message`, once per seq (whatever the
   * frame: a replay sends one created and edited meanwhile as edited); a change to one it had, as
   * `edited` or `deleted`. Without stream positions (an older server), holes are found by seq.
   */
  private onMessage(kind: "messageCreated" | "messageEdited" | "messageDeleted", message: Message, position: StreamPosition | undefined): void {
    const room = this.rooms.get(message.roomId);
    if (!room) return;
    if (position) {
      if (!this.step(message.roomId, room, "messages", position)) return;
    } else if (kind === "messageCreated" && room.lastSeq !== undefined && message.seq > room.lastSeq + 1n) {
      if (this.socket?.readyState === OPEN) {
        this.write({ ref: "", frame: { case: "unsubscribe", value: { roomId: message.roomId } } });
        this.sendSubscribe(message.roomId, room);
      }
      return;
    }
    const seq = message.seq;
    const isNew = room.lastSeq === undefined || seq > room.lastSeq || room.missing.delete(seq);
    if (isNew) {
      if (room.lastSeq !== undefined && seq > room.lastSeq) {
        // Seqs skipped over come later in the replay (they changed after this one): they are new then.
        if (position && seq - room.lastSeq - 1n + BigInt(room.missing.size) <= MAX_MISSING) {
          for (let s = room.lastSeq + 1n; s < seq; s++) room.missing.add(s);
        }
      }
      if (room.lastSeq === undefined) room.unknownBelow = seq;
      if (room.lastSeq === undefined || seq > room.lastSeq) room.lastSeq = seq;
      this.emit("message", message);
      return;
    }
    // Delivered already. With a position, though, it is a later change of that message (a reaction
    // taken away again, or an unpin, leaves it as sent): an edit.
    if (kind === "messageCreated" && !position) return;
    this.emit(kind === "messageDeleted" ? "deleted" : "edited", message);
  }

  private settle(frame: ServerFrame): void {
    const f = frame.frame;
    if (f.case !== "ack" && f.case !== "error") return;
    const ref = f.value.ref;
    if (f.case === "error" && f.value.code === "OUT_OF_RANGE") {
      const roomId = f.value.roomId || (ref.startsWith("sub:") ? ref.slice(4) : "");
      const room = this.rooms.get(roomId);
      if (room) return this.reset(roomId, room);
    }
    if (f.case === "error" && ref.startsWith("sub:")) {
      const roomId = ref.slice(4);
      const position = this.position(roomId);
      this.rooms.delete(roomId);
      this.emit("roomClosed", { roomId, code: f.value.code, message: f.value.message, ...(position && { position }) });
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
