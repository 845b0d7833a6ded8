// A socket node: authenticates upgrades, subscribes sockets to rooms, replays
// what a client missed, fans events out with one uWebSockets.js topic per room
// and encoding, and fills holes in the seq order from the message service.
import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import pLimit, { type LimitFunction } from "p-limit";
import type { SessionStates } from "@parley/kit/tokens";
import type { AccessTokenVerifier } from "@parley/kit/tokens";
import { META, newEvent, rules, topics, type Broker, type Logger, type RateLimiter, type Unsubscribe } from "@parley/kit";
import { PresenceState, type Event } from "@parley/proto/events/v1/events_pb";
import type { Message, MessageService } from "@parley/proto/message/v1/message_pb";
import type { Membership, RoomService } from "@parley/proto/room/v1/room_pb";
import type { ClientFrame } from "@parley/proto/socket/v1/socket_pb";
import { isAllowedOrigin } from "../public-env.js";
import { SEND_BUDGET_WINDOW_MS, sendBudgetKey } from "../send-budget.js";
import type { PresenceStore } from "./presence.js";
import {
  CLOSE,
  decodeClientFrame,
  DEFAULT_MAX_FRAME_BYTES,
  FrameError,
  OutgoingFrame,
  parseSubprotocols,
  SUBPROTOCOLS,
  type Encoding,
} from "./protocol.js";
import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t, Uws, WebSocket } from "./uws.js";

export interface SocketNodeOptions {
  uws: Uws;
  services: { rooms: Client<typeof RoomService>; messages: Client<typeof MessageService> };
  verifier: AccessTokenVerifier;
  /** Whether a token's session has ended (checked at upgrade, per frame, and by a sweep of open sockets). */
  sessions: SessionStates;
  /** The rate limiter of the edge's send budget (the same one, or the same Redis). */
  limiter: RateLimiter;
  broker: Broker;
  presence: PresenceStore;
  log: Logger;
  nodeId?: string;
  /** Origins allowed to open sockets from a browser; requests without Origin (non-browser clients) are allowed. */
  allowedOrigins: string[];
  limits?: Partial<SocketLimits>;
}

export interface SocketLimits {
  /**
   * Largest client frame: a larger one closes the socket with 1009. uWebSockets.js itself is told
   * four times as much, because above its own limit it drops the connection without a close frame.
   */
  maxFrameBytes: number;
  /** A socket with more unsent bytes than this is closed as a slow consumer. */
  slowConsumerBytes: number;
  /**
   * Client frames per second, sustained (bursts of four seconds' worth pass); beyond it a frame
   * gets RESOURCE_EXHAUSTED, and a client that keeps flooding at ten times the rate is closed.
   */
  framesPerSecond: number;
  /** Rooms one socket may subscribe to. */
  maxRoomsPerSocket: number;
  /** How often every room's newest seq is checked, so an idle room converges after a lost event. */
  headCheckMs: number;
  /**
   * Subscriptions set up at once (each asks the room and message services, and replays). More wait
   * in line: after a node dies, thousands of clients resubscribe within seconds, and without a limit
   * their calls all time out in the services together and are retried together.
   */
  subscribeConcurrency: number;
  /** Inactivity before a user shows as away. */
  awayAfterMs: number;
  /** Typing frames per room per socket at most this often. */
  typingIntervalMs: number;
  idleTimeoutSeconds: number;
  /** Sockets one user may have open, across nodes that share the presence store. */
  maxSocketsPerUser: number;
  /** How often the sessions of open sockets are checked again (in case their end was not heard). */
  sessionSweepMs: number;
  /** The per-user send budget (RATE_SEND_PER_10S_USER), shared with the edge. */
  sendsPer10sPerUser: number;
}

const DEFAULT_LIMITS: SocketLimits = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  slowConsumerBytes: 1024 * 1024,
  framesPerSecond: 50,
  maxRoomsPerSocket: 1000,
  headCheckMs: 3_000,
  subscribeConcurrency: 32,
  awayAfterMs: 5 * 60_000,
  typingIntervalMs: 2_000,
  idleTimeoutSeconds: 60,
  maxSocketsPerUser: 20,
  sessionSweepMs: 5_000,
  sendsPer10sPerUser: 50,
};

/** Failures of a downstream call that say nothing about the request itself. */
const TRANSIENT = new Set([Code.Unavailable, Code.Canceled, Code.DeadlineExceeded, Code.Aborted]);

const PRESENCE_TTL_MS = 45_000;
const PRESENCE_SWEEP_MS = 15_000;
const PAGE = 100;

interface Subscription {
  roomId: string;
  /** False while replaying: live events wait in `buffer`. */
  live: boolean;
  buffer: { frame: OutgoingFrame; seq?: bigint }[];
  /** Highest message seq this socket has been sent. */
  lastSeq: bigint;
}

interface SocketState {
  id: string;
  userId: string;
  sessionId: string;
  expiresAt: number;
  encoding: Encoding;
  subs: Map<string, Subscription>;
  /** Registered with the node (see open()). */
  started: boolean;
  /** Counted in socketsByUser (from the upgrade until close). */
  counted: boolean;
  closed: boolean;
  expiryTimer?: NodeJS.Timeout;
  /** Token bucket of the frame rate limit. */
  tokens: number;
  refilledAt: number;
  /** Frames refused in the current second. */
  refused: number;
  refusedWindow: number;
  typingAt: Map<string, number>;
  lastActivity: number;
  drainWaiters: (() => void)[];
}

type Socket = WebSocket<SocketState>;

/** A room with subscribers on this node. */
interface RoomChannel {
  roomId: string;
  topics: Record<Encoding, string>;
  sockets: Set<Socket>;
  /** Highest seq delivered in order; undefined until the head is known. */
  lastSeq?: bigint;
  /** Messages that arrived ahead of a hole, by seq. */
  held: Map<bigint, Message>;
  filling: boolean;
  ready: Promise<void>;
  unsubscribe?: Unsubscribe;
  /** Member ids and the presence last announced for them on this node. */
  presence: Map<string, PresenceState>;
}

export class SocketNode {
  readonly nodeId: string;
  private readonly app: TemplatedApp;
  private readonly limits: SocketLimits;
  private readonly log: Logger;
  private readonly channels = new Map<string, RoomChannel>();
  private readonly byUser = new Map<string, { sockets: Set<Socket>; unsubscribe?: Promise<Unsubscribe>; state: PresenceState }>();
  private readonly allowedOrigins: Set<string>;
  /** Sockets per user on this node, from the upgrade on (byUser has them only once started). */
  private readonly socketsByUser = new Map<string, number>();
  private readonly timers: NodeJS.Timeout[] = [];
  private listenSocket: unknown;
  private readonly subscribeSlots: LimitFunction;
  private draining = false;

  constructor(private readonly options: SocketNodeOptions) {
    this.nodeId = options.nodeId ?? randomUUID();
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.log = options.log;
    this.allowedOrigins = new Set(options.allowedOrigins);
    this.subscribeSlots = pLimit(this.limits.subscribeConcurrency);
    this.app = options.uws.App();
    this.app.ws<SocketState>("/ws", {
      maxPayloadLength: this.limits.maxFrameBytes * 4,
      idleTimeout: this.limits.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      // The hard ceiling; the sweep closes slow sockets well before, with the slow-consumer code.
      maxBackpressure: this.limits.slowConsumerBytes * 4,
      closeOnBackpressureLimit: 1,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.open(ws),
      message: (ws, data, isBinary) => this.message(ws, data, isBinary),
      drain: (ws) => this.drain(ws),
      close: (ws) => this.closed(ws),
    });
    this.app.get("/healthz", (res) => {
      res.cork(() => res.writeStatus(this.draining ? "503 Service Unavailable" : "200 OK").end(this.draining ? "draining" : "ok"));
    });
    this.app.any("/*", (res) => {
      res.cork(() => res.writeStatus("404 Not Found").end("not found"));
    });
  }

  async listen(port: number, host = "127.0.0.1"): Promise<number> {
    const socket = await new Promise<unknown>((resolve) => this.app.listen(host, port, resolve));
    if (!socket) throw new Error(`socket tier could not listen on ${host}:${port}`);
    this.listenSocket = socket;
    this.timers.push(setInterval(() => this.sweepSlowConsumers(), 250));
    this.timers.push(setInterval(() => void this.checkHeads(), this.limits.headCheckMs));
    this.timers.push(setInterval(() => void this.sweepPresence(), PRESENCE_SWEEP_MS));
    this.timers.push(setInterval(() => void this.sweepSessions(), this.limits.sessionSweepMs));
    for (const timer of this.timers) timer.unref();
    return this.options.uws.us_socket_local_port(socket as never);
  }

  /** Stops upgrades, closes every socket with "reconnect elsewhere", and releases the broker. */
  async shutdown(): Promise<void> {
    this.draining = true;
    if (this.listenSocket) this.options.uws.us_listen_socket_close(this.listenSocket as never);
    this.listenSocket = undefined;
    for (const timer of this.timers) clearInterval(timer);
    // Who was here, before the closes below empty byUser.
    const userIds = [...this.byUser.keys()];
    const sockets = [...this.byUser.values()].flatMap((u) => [...u.sockets]);
    for (const ws of sockets) ws.end(CLOSE.serviceRestart, "server restarting: reconnect");
    await Promise.all([...this.channels.values()].map((c) => c.unsubscribe?.()));
    this.channels.clear();
    await Promise.all(userIds.map((userId) => this.options.presence.remove(userId, this.nodeId).catch(() => undefined)));
  }

  get socketCount(): number {
    let n = 0;
    for (const user of this.byUser.values()) n += user.sockets.size;
    return n;
  }

  // ---- connection lifecycle ----

  private upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    // Everything needed from req must be read now: it is gone after the first await.
    const key = req.getHeader("sec-websocket-key");
    const protocolHeader = req.getHeader("sec-websocket-protocol");
    const extensions = req.getHeader("sec-websocket-extensions");
    const origin = req.getHeader("origin");
    const query = new URLSearchParams(req.getQuery() ?? "");
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const refuse = (status: string, reason: string) => {
      if (!aborted) res.cork(() => res.writeStatus(status).writeHeader("content-type", "text/plain").end(reason));
    };
    if (this.draining) return refuse("503 Service Unavailable", "shutting down: connect to another node");
    if (!isAllowedOrigin(origin, this.allowedOrigins)) {
      return refuse("403 Forbidden", "origin not allowed");
    }
    const { encoding, chosen, token } = parseSubprotocols(protocolHeader);
    const admit = async () => {
      let claims;
      try {
        claims = await this.options.verifier.verify(token ?? query.get("token") ?? undefined);
      } catch (error) {
        return refuse("401 Unauthorized", (error as Error).name === "TokenRejectedError" ? (error as Error).message : "cannot verify the token");
      }
      let ended: boolean;
      let elsewhere: number;
      try {
        [ended, elsewhere] = await Promise.all([
          this.options.sessions.isEnded(claims.sessionId),
          this.options.presence.socketsElsewhere(claims.userId, this.nodeId),
        ]);
      } catch (error) {
        this.log.warn({ err: error }, "cannot check a session or the user's sockets");
        return refuse("503 Service Unavailable", "cannot verify the token right now; try again");
      }
      if (aborted) return;
      if (ended) return refuse("401 Unauthorized", "the session has ended; sign in again");
      // Counted from here, synchronously with the check: a burst of upgrades cannot all pass it.
      const here = this.socketsByUser.get(claims.userId) ?? 0;
      if (here + elsewhere >= this.limits.maxSocketsPerUser) return refuse("429 Too Many Requests", "too many open sockets for this user");
      this.socketsByUser.set(claims.userId, here + 1);
      const state: SocketState = {
        id: randomUUID(),
        userId: claims.userId,
        sessionId: claims.sessionId,
        expiresAt: claims.expiresAt,
        encoding,
        subs: new Map(),
        started: false,
        counted: true,
        closed: false,
        tokens: this.limits.framesPerSecond * 4,
        refilledAt: Date.now(),
        refused: 0,
        refusedWindow: Date.now(),
        typingAt: new Map(),
        lastActivity: Date.now(),
        drainWaiters: [],
      };
      res.cork(() => res.upgrade(state, key, chosen, extensions, context));
    };
    admit().catch((error: unknown) => {
      this.log.error({ err: error }, "upgrade failed");
      refuse("500 Internal Server Error", "internal error");
    });
  }

  /**
   * Runs inside uWS's upgrade (res.cork → res.upgrade), so it only schedules the socket's start.
   * Our work inside that cork (the node's bookkeeping, timers, the hello frame) made this uWS build
   * close many fresh sockets without a close frame (1006) when it shares a busy process with the
   * services (the all-in-one); a test in edge/test/socket.test.ts checks it no longer does. A frame
   * or a close that comes first starts or cancels the socket itself.
   */
  private open(ws: Socket): void {
    const state = ws.getUserData();
    setImmediate(() => {
      if (!state.closed) this.start(ws, state);
    });
  }

  private start(ws: Socket, state: SocketState): void {
    if (state.started) return;
    state.started = true;
    if (this.draining) {
      state.closed = true;
      ws.end(CLOSE.serviceRestart, "server restarting: reconnect");
      return;
    }
    let user = this.byUser.get(state.userId);
    if (!user) {
      user = { sockets: new Set(), state: PresenceState.OFFLINE };
      this.byUser.set(state.userId, user);
      user.unsubscribe = this.options.broker.subscribe(topics.user(state.userId), (event) => this.onUserEvent(state.userId, event));
    }
    user.sockets.add(ws);
    this.armExpiry(ws, state);
    this.send(
      ws,
      new OutgoingFrame({
        frame: { case: "hello", value: { userId: state.userId, tokenExpiresAtMs: BigInt(state.expiresAt), nodeId: this.nodeId, maxFrameBytes: this.limits.maxFrameBytes } },
      }),
    );
    void this.updatePresence(state.userId);
  }

  private closed(ws: Socket): void {
    const state = ws.getUserData();
    state.closed = true;
    if (state.counted) {
      state.counted = false;
      const left = (this.socketsByUser.get(state.userId) ?? 1) - 1;
      if (left > 0) this.socketsByUser.set(state.userId, left);
      else this.socketsByUser.delete(state.userId);
    }
    if (!state.started) return;
    clearTimeout(state.expiryTimer);
    for (const resolve of state.drainWaiters.splice(0)) resolve();
    for (const roomId of state.subs.keys()) this.leaveChannel(ws, roomId, false);
    state.subs.clear();
    const user = this.byUser.get(state.userId);
    if (!user) return;
    user.sockets.delete(ws);
    if (user.sockets.size === 0) {
      this.byUser.delete(state.userId);
      void user.unsubscribe?.then((unsubscribe) => unsubscribe());
    }
    // While draining, shutdown() removes this node's presence entries in one go (and closes the store).
    if (!this.draining) void this.updatePresence(state.userId);
  }

  private drain(ws: Socket): void {
    const state = ws.getUserData();
    if (ws.getBufferedAmount() < this.limits.slowConsumerBytes / 2) {
      for (const resolve of state.drainWaiters.splice(0)) resolve();
    }
  }

  private armExpiry(ws: Socket, state: SocketState): void {
    clearTimeout(state.expiryTimer);
    state.expiryTimer = setTimeout(() => {
      if (!state.closed) ws.end(CLOSE.authExpired, "access token expired");
    }, Math.max(0, state.expiresAt - Date.now()));
    state.expiryTimer.unref();
  }

  // ---- client frames ----

  private message(ws: Socket, data: ArrayBuffer, isBinary: boolean): void {
    const state = ws.getUserData();
    if (data.byteLength > this.limits.maxFrameBytes) {
      // Closed with a close frame and the code the protocol documents; the frame is not looked at.
      state.closed = true;
      ws.end(CLOSE.frameTooLarge, `frame too large: at most ${this.limits.maxFrameBytes} bytes`);
      return;
    }
    this.start(ws, state);
    const now = Date.now();
    const rate = this.limits.framesPerSecond;
    state.tokens = Math.min(rate * 4, state.tokens + ((now - state.refilledAt) / 1000) * rate);
    state.refilledAt = now;
    const allowed = state.tokens >= 1;
    if (allowed) state.tokens -= 1;
    else {
      if (now - state.refusedWindow >= 1000) {
        state.refusedWindow = now;
        state.refused = 0;
      }
      if (++state.refused > rate * 10) {
        ws.end(CLOSE.policyViolation, "too many frames");
        return;
      }
    }
    let frame: ClientFrame;
    try {
      frame = decodeClientFrame(data, isBinary, state.encoding);
    } catch (error) {
      this.sendError(ws, "", "INVALID_ARGUMENT", (error as FrameError).message);
      return;
    }
    if (!allowed) {
      this.sendError(ws, frame.ref, "RESOURCE_EXHAUSTED", "too many frames; slow down");
      return;
    }
    if (frame.frame.case !== "ping") state.lastActivity = now;
    this.handle(ws, state, frame).catch((error: unknown) => {
      if (state.closed) return;
      const connect = ConnectError.from(error);
      const roomId = frame.frame.case === "subscribe" || frame.frame.case === "unsubscribe" ? frame.frame.value.roomId : "";
      if (connect.code === Code.Internal || connect.code === Code.Unknown) {
        this.log.error({ err: error, frame: frame.frame.case }, "frame failed");
        return this.sendError(ws, frame.ref, "INTERNAL", "internal error", roomId);
      }
      // A service went away mid-call (or is restarting): the client may retry, sends with the same clientMsgId.
      if (TRANSIENT.has(connect.code)) {
        this.log.warn({ err: error, frame: frame.frame.case }, "service unavailable");
        return this.sendError(ws, frame.ref, "UNAVAILABLE", "service temporarily unavailable; try again", roomId);
      }
      this.sendError(ws, frame.ref, grpc.status[connect.code as number] ?? "UNKNOWN", connect.rawMessage, roomId);
    });
  }

  private async handle(ws: Socket, state: SocketState, { ref, frame }: ClientFrame): Promise<void> {
    if (frame.case !== "ping" && (await this.sessionEnded(state))) {
      if (!state.closed) ws.end(CLOSE.sessionsRevoked, "the session has ended; sign in again");
      return;
    }
    const as = this.callOptions(state);
    switch (frame.case) {
      case "subscribe":
        return this.subscribe(ws, state, ref, frame.value.roomId, frame.value.afterSeq);
      case "unsubscribe":
        if (state.subs.has(frame.value.roomId)) {
          state.subs.delete(frame.value.roomId);
          this.leaveChannel(ws, frame.value.roomId, true);
        }
        return this.ack(ws, ref, {});
      case "send": {
        const budget = await this.options.limiter.hit(sendBudgetKey(state.userId), this.limits.sendsPer10sPerUser, SEND_BUDGET_WINDOW_MS).catch((error: unknown) => {
          throw new ConnectError("the send budget cannot be checked right now", Code.Unavailable, undefined, undefined, error);
        });
        if (!budget.allowed) {
          // Not stored: the client retries the same Send (same clientMsgId) after the pause.
          return this.sendError(ws, ref, "RESOURCE_EXHAUSTED", "too many messages; try again later", frame.value.roomId, Math.max(1, budget.retryAfterMs));
        }
        const { message } = await this.options.services.messages.sendMessage(
          { roomId: frame.value.roomId, clientMsgId: frame.value.clientMsgId, body: frame.value.body, replyToId: frame.value.replyToId },
          as,
        );
        return this.ack(ws, ref, { message });
      }
      case "edit": {
        const { message } = await this.options.services.messages.editMessage({ messageId: frame.value.messageId, body: frame.value.body }, as);
        return this.ack(ws, ref, { message });
      }
      case "delete": {
        const { message } = await this.options.services.messages.deleteMessage({ messageId: frame.value.messageId }, as);
        return this.ack(ws, ref, { message });
      }
      case "markRead": {
        const { lastReadSeq } = await this.options.services.messages.markRead({ roomId: frame.value.roomId, seq: frame.value.seq }, as);
        return this.ack(ws, ref, { lastReadSeq });
      }
      case "typing": {
        const roomId = frame.value.roomId;
        if (!state.subs.has(roomId)) throw new ConnectError("subscribe to the room first", Code.FailedPrecondition);
        const last = state.typingAt.get(roomId) ?? 0;
        if (Date.now() - last < this.limits.typingIntervalMs) return;
        state.typingAt.set(roomId, Date.now());
        this.options.broker.publish(topics.room(roomId), newEvent(roomId, { case: "typing", value: { userId: state.userId } }));
        return;
      }
      case "reauth": {
        const claims = await this.options.verifier.verify(frame.value.token).catch((error: Error) => {
          throw new ConnectError(error.message, Code.Unauthenticated);
        });
        if (claims.userId !== state.userId) throw new ConnectError("the token belongs to another user", Code.PermissionDenied);
        if (await this.sessionEnded({ sessionId: claims.sessionId })) throw new ConnectError("the session has ended; sign in again", Code.Unauthenticated);
        state.expiresAt = claims.expiresAt;
        state.sessionId = claims.sessionId;
        this.armExpiry(ws, state);
        return this.ack(ws, ref, {});
      }
      case "ping":
        this.send(ws, new OutgoingFrame({ frame: { case: "pong", value: { nonce: frame.value.nonce } } }));
        return;
      default:
        throw new ConnectError("unknown frame type", Code.InvalidArgument);
    }
  }

  /** Whether the socket's session ended (cached about a second); a failed check is a transient error. */
  private async sessionEnded(state: { sessionId: string }): Promise<boolean> {
    return this.options.sessions.isEnded(state.sessionId).catch((error: unknown) => {
      throw new ConnectError("cannot check the session right now", Code.Unavailable, undefined, undefined, error);
    });
  }

  /** Closes sockets whose session ended without this node hearing of it (a lost event). */
  private async sweepSessions(): Promise<void> {
    const bySession = new Map<string, Socket[]>();
    for (const user of this.byUser.values()) {
      for (const ws of user.sockets) {
        const { sessionId } = ws.getUserData();
        bySession.set(sessionId, [...(bySession.get(sessionId) ?? []), ws]);
      }
    }
    await Promise.all(
      [...bySession].map(async ([sessionId, sockets]) => {
        try {
          if (!(await this.options.sessions.isEnded(sessionId))) return;
        } catch (error) {
          return this.log.debug({ err: error }, "session sweep: cannot check sessions now");
        }
        for (const ws of sockets) {
          const state = ws.getUserData();
          if (!state.closed && state.sessionId === sessionId) ws.end(CLOSE.sessionsRevoked, "the session has ended; sign in again");
        }
      }),
    );
  }

  private callOptions(state: SocketState) {
    return { headers: { [META.userId]: state.userId, [META.sessionId]: state.sessionId, [META.requestId]: randomUUID() } };
  }

  // ---- subscriptions and replay ----

  private async subscribe(ws: Socket, state: SocketState, ref: string, roomId: string, afterSeq: bigint | undefined): Promise<void> {
    if (!rules.uuid.safeParse(roomId).success) throw new ConnectError("roomId: must be a UUID", Code.InvalidArgument);
    if (state.subs.has(roomId)) return this.ack(ws, ref, {});
    if (state.subs.size >= this.limits.maxRoomsPerSocket) throw new ConnectError("too many rooms on one socket", Code.ResourceExhausted);
    if (afterSeq !== undefined && afterSeq < 0n) throw new ConnectError("afterSeq: must not be negative", Code.InvalidArgument);
    // Waits for a slot; a socket that closed meanwhile gives its turn up at once.
    return this.subscribeSlots(() => (state.closed ? undefined : this.setUpSubscription(ws, state, ref, roomId, afterSeq)));
  }

  private async setUpSubscription(ws: Socket, state: SocketState, ref: string, roomId: string, afterSeq: bigint | undefined): Promise<void> {
    if (state.subs.has(roomId)) return this.ack(ws, ref, {});
    const { membership } = await this.options.services.rooms.getMembership({ roomId, userId: state.userId });
    if (!membership) throw new ConnectError("room not found", Code.NotFound);
    if (state.closed || state.subs.has(roomId)) return;

    const sub: Subscription = { roomId, live: false, buffer: [], lastSeq: 0n };
    state.subs.set(roomId, sub);
    const channel = this.channelFor(roomId, state);
    channel.sockets.add(ws);
    await channel.ready;
    if (!this.stillSubscribed(state, roomId, sub)) return;
    // Live events from now on wait in sub.buffer; everything before comes from the database.
    sub.lastSeq = channel.lastSeq ?? 0n;
    if (afterSeq !== undefined) {
      sub.lastSeq = afterSeq;
      let hasNewer = true;
      while (hasNewer) {
        const page = await this.options.services.messages.listMessages(
          { roomId, cursor: { case: "afterSeq", value: sub.lastSeq }, limit: PAGE },
          this.callOptions(state),
        );
        if (!this.stillSubscribed(state, roomId, sub)) return;
        for (const message of page.messages) {
          this.send(ws, new OutgoingFrame({ frame: { case: "messageCreated", value: { message } } }));
          sub.lastSeq = message.seq;
        }
        hasNewer = page.hasNewer && page.messages.length > 0;
        await this.waitForDrain(ws, state);
        if (!this.stillSubscribed(state, roomId, sub)) return;
      }
    }
    // Synchronously from here: flush what arrived meanwhile, then switch to the topic.
    for (const { frame, seq } of sub.buffer) {
      if (seq !== undefined) {
        if (seq <= sub.lastSeq) continue;
        sub.lastSeq = seq;
      }
      this.send(ws, frame);
    }
    sub.buffer = [];
    sub.live = true;
    ws.subscribe(channel.topics[state.encoding]);
    this.send(ws, new OutgoingFrame({ frame: { case: "live", value: { roomId, lastSeq: sub.lastSeq } } }));
    this.ack(ws, ref, {});
    void this.sendPresenceSnapshot(ws, state, channel);
  }

  private stillSubscribed(state: SocketState, roomId: string, sub: Subscription): boolean {
    return !state.closed && state.subs.get(roomId) === sub;
  }

  private async waitForDrain(ws: Socket, state: SocketState): Promise<void> {
    if (state.closed || ws.getBufferedAmount() < this.limits.slowConsumerBytes / 2) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        if (!state.closed) ws.end(CLOSE.slowConsumer, "slow consumer: resume with afterSeq");
        resolve();
      }, 10_000);
      timer.unref();
      state.drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private channelFor(roomId: string, state: SocketState): RoomChannel {
    let channel = this.channels.get(roomId);
    if (channel) return channel;
    const created: RoomChannel = {
      roomId,
      topics: { json: `${roomId}/j`, proto: `${roomId}/p` },
      sockets: new Set(),
      held: new Map(),
      filling: false,
      presence: new Map(),
      ready: Promise.resolve(),
    };
    channel = created;
    this.channels.set(roomId, created);
    created.ready = (async () => {
      created.unsubscribe = await this.options.broker.subscribe(topics.room(roomId), (event) => this.onRoomEvent(created, event));
      // The head as of now; events held meanwhile are ordered against it.
      const page = await this.options.services.messages.listMessages({ roomId, limit: 1 }, this.callOptions(state));
      created.lastSeq = page.lastSeq;
      this.releaseHeld(created);
    })().catch((error: unknown) => {
      this.log.warn({ err: error, roomId }, "could not read the room's head; the head check will retry");
    });
    return created;
  }

  private leaveChannel(ws: Socket, roomId: string, socketOpen: boolean): void {
    const channel = this.channels.get(roomId);
    if (!channel) return;
    if (socketOpen) {
      const state = ws.getUserData();
      ws.unsubscribe(channel.topics[state.encoding]);
    }
    channel.sockets.delete(ws);
    if (channel.sockets.size === 0) {
      this.channels.delete(roomId);
      void channel.ready.then(() => channel.unsubscribe?.());
    }
  }

  // ---- fan-out, order and holes ----

  /** Sends to every live socket of the room (once per encoding) and queues for the ones replaying. */
  private broadcast(channel: RoomChannel, frame: OutgoingFrame, seq?: bigint): void {
    for (const encoding of ["json", "proto"] as const) {
      const topic = channel.topics[encoding];
      if (this.app.numSubscribers(topic) > 0) this.app.publish(topic, frame.encoded(encoding), encoding === "proto");
    }
    for (const ws of channel.sockets) {
      const sub = ws.getUserData().subs.get(channel.roomId);
      if (sub && !sub.live) sub.buffer.push({ frame, seq });
    }
  }

  private acceptCreated(channel: RoomChannel, message: Message): void {
    if (channel.lastSeq === undefined || message.seq > channel.lastSeq + 1n) {
      channel.held.set(message.seq, message);
      if (channel.lastSeq !== undefined) void this.fill(channel);
      return;
    }
    if (message.seq <= channel.lastSeq) return; // already delivered
    this.deliver(channel, message);
    this.releaseHeld(channel);
  }

  private deliver(channel: RoomChannel, message: Message): void {
    channel.lastSeq = message.seq;
    channel.held.delete(message.seq);
    this.broadcast(channel, new OutgoingFrame({ frame: { case: "messageCreated", value: { message } } }), message.seq);
  }

  private releaseHeld(channel: RoomChannel): void {
    if (channel.lastSeq === undefined) return;
    for (const seq of [...channel.held.keys()].sort((a, b) => (a < b ? -1 : 1))) {
      if (seq <= channel.lastSeq) channel.held.delete(seq);
      else if (seq === channel.lastSeq + 1n) this.deliver(channel, channel.held.get(seq)!);
      else break;
    }
    if (channel.held.size > 0 && !channel.filling) void this.fill(channel);
  }

  /** Reads the messages after the last delivered seq from the message service, in order. */
  private async fill(channel: RoomChannel): Promise<void> {
    if (channel.filling || channel.lastSeq === undefined) return;
    const reader = channel.sockets.values().next().value as Socket | undefined;
    if (!reader) return;
    channel.filling = true;
    try {
      let hasNewer = true;
      while (hasNewer && this.channels.get(channel.roomId) === channel) {
        const page = await this.options.services.messages.listMessages(
          { roomId: channel.roomId, cursor: { case: "afterSeq", value: channel.lastSeq }, limit: PAGE },
          this.callOptions(reader.getUserData()),
        );
        for (const message of page.messages) if (message.seq === channel.lastSeq + 1n) this.deliver(channel, message);
        hasNewer = page.hasNewer && page.messages.length > 0;
      }
      this.log.debug({ roomId: channel.roomId, lastSeq: channel.lastSeq }, "filled a hole");
    } catch (error) {
      this.log.warn({ err: error, roomId: channel.roomId }, "could not fill a hole; the head check will retry");
    } finally {
      channel.filling = false;
    }
    // Messages that arrived while filling may now be next in line.
    this.releaseHeld(channel);
  }

  /** Compares every room's newest seq with what was delivered: catches events lost on the broker. */
  private async checkHeads(): Promise<void> {
    const channels = [...this.channels.values()].filter((c) => c.sockets.size > 0);
    if (channels.length === 0) return;
    const someone = channels[0]!.sockets.values().next().value!.getUserData();
    try {
      for (let i = 0; i < channels.length; i += 1000) {
        const batch = channels.slice(i, i + 1000);
        const { stats } = await this.options.services.messages.getRoomStats(
          { rooms: batch.map((c) => ({ roomId: c.roomId, lastReadSeq: 0n })) },
          this.callOptions(someone),
        );
        for (const stat of stats) {
          const channel = this.channels.get(stat.roomId);
          if (!channel) continue;
          if (channel.lastSeq === undefined) {
            channel.lastSeq = stat.lastSeq;
            this.releaseHeld(channel);
          } else if (stat.lastSeq > channel.lastSeq) {
            void this.fill(channel);
          }
        }
      }
    } catch (error) {
      this.log.warn({ err: error }, "head check failed");
    }
  }

  private sweepSlowConsumers(): void {
    for (const user of this.byUser.values()) {
      for (const ws of user.sockets) {
        if (ws.getBufferedAmount() > this.limits.slowConsumerBytes) ws.end(CLOSE.slowConsumer, "slow consumer: resume with afterSeq");
      }
    }
  }

  // ---- events from the broker ----

  private onRoomEvent(channel: RoomChannel, event: Event): void {
    const roomId = channel.roomId;
    const { payload } = event;
    switch (payload.case) {
      case "messageCreated":
        if (payload.value.message) this.acceptCreated(channel, payload.value.message);
        return;
      case "messageEdited":
      case "messageDeleted": {
        const message = payload.value.message;
        // A change to a message not yet delivered arrives with it: the fill reads its current state.
        if (!message || channel.lastSeq === undefined || message.seq > channel.lastSeq) return;
        this.broadcast(channel, new OutgoingFrame({ frame: { case: payload.case, value: { message } } }));
        return;
      }
      case "headBeacon":
        if (channel.lastSeq !== undefined && payload.value.lastSeq > channel.lastSeq) void this.fill(channel);
        return;
      case "typing":
        this.broadcast(channel, new OutgoingFrame({ frame: { case: "typing", value: { roomId, userId: payload.value.userId } } }));
        return;
      case "presenceChanged":
        channel.presence.set(payload.value.userId, payload.value.state);
        this.broadcast(channel, new OutgoingFrame({ frame: { case: "presence", value: { userId: payload.value.userId, state: payload.value.state } } }));
        return;
      case "memberJoined": {
        const membership = payload.value.membership;
        if (membership) channel.presence.set(membership.userId, channel.presence.get(membership.userId) ?? PresenceState.OFFLINE);
        this.broadcast(channel, memberFrame("memberJoined", roomId, membership?.userId ?? "", payload.value));
        return;
      }
      case "memberRoleChanged":
        this.broadcast(channel, memberFrame("memberRoleChanged", roomId, payload.value.membership?.userId ?? "", payload.value));
        return;
      case "memberLeft":
      case "memberKicked": {
        const frame = memberFrame(payload.case, roomId, payload.value.userId, payload.value);
        this.broadcast(channel, frame);
        this.dropMember(roomId, payload.value.userId, frame);
        channel.presence.delete(payload.value.userId);
        return;
      }
      case "roomUpdated":
        this.broadcast(channel, new OutgoingFrame({ frame: { case: "roomUpdated", value: { room: payload.value.room } } }));
        return;
      default:
        return;
    }
  }

  /** A member who left or was kicked stops receiving the room on every socket, now. */
  private dropMember(roomId: string, userId: string, frame: OutgoingFrame): void {
    for (const ws of this.byUser.get(userId)?.sockets ?? []) {
      const state = ws.getUserData();
      const sub = state.subs.get(roomId);
      if (!sub) continue;
      if (!sub.live) this.send(ws, frame);
      state.subs.delete(roomId);
      this.leaveChannel(ws, roomId, true);
    }
  }

  private onUserEvent(userId: string, event: Event): void {
    const sockets = this.byUser.get(userId)?.sockets;
    if (!sockets) return;
    const { payload } = event;
    const toSocketsOutsideRoom = (roomId: string, frame: OutgoingFrame) => {
      for (const ws of sockets) if (!ws.getUserData().subs.has(roomId)) this.send(ws, frame);
    };
    switch (payload.case) {
      case "sessionsRevoked":
        // Ahead of the next check: this node refuses these sessions from now on.
        this.options.sessions.markEnded(payload.value.sessionIds);
        for (const ws of [...sockets]) {
          const state = ws.getUserData();
          if (payload.value.sessionIds.length === 0 || payload.value.sessionIds.includes(state.sessionId)) {
            ws.end(CLOSE.sessionsRevoked, "the session has ended; sign in again");
          }
        }
        return;
      case "readMarkerMoved": {
        const frame = new OutgoingFrame({ frame: { case: "readMarker", value: { roomId: event.roomId, lastReadSeq: payload.value.lastReadSeq } } });
        for (const ws of sockets) this.send(ws, frame);
        return;
      }
      case "memberJoined":
      case "memberRoleChanged":
        toSocketsOutsideRoom(event.roomId, memberFrame(payload.case, event.roomId, payload.value.membership?.userId ?? userId, payload.value));
        return;
      case "memberLeft":
      case "memberKicked": {
        const frame = memberFrame(payload.case, event.roomId, payload.value.userId, payload.value);
        toSocketsOutsideRoom(event.roomId, frame);
        // The room topic may have lost the event: make sure the subscription ends anyway.
        if (payload.value.userId === userId) this.dropMember(event.roomId, userId, frame);
        return;
      }
      case "roomCreated":
      case "roomUpdated":
        toSocketsOutsideRoom(event.roomId, new OutgoingFrame({ frame: { case: "roomUpdated", value: { room: payload.value.room } } }));
        return;
      default:
        return;
    }
  }

  // ---- presence ----

  private localState(userId: string): PresenceState.ONLINE | PresenceState.AWAY | PresenceState.OFFLINE {
    const sockets = this.byUser.get(userId)?.sockets;
    if (!sockets || sockets.size === 0) return PresenceState.OFFLINE;
    const now = Date.now();
    for (const ws of sockets) if (now - ws.getUserData().lastActivity < this.limits.awayAfterMs) return PresenceState.ONLINE;
    return PresenceState.AWAY;
  }

  /** Records this node's view of the user and announces a change of their overall state. */
  private async updatePresence(userId: string): Promise<void> {
    const local = this.localState(userId);
    const { presence, broker } = this.options;
    try {
      if (local === PresenceState.OFFLINE) await presence.remove(userId, this.nodeId);
      else await presence.set(userId, this.nodeId, local, PRESENCE_TTL_MS, this.socketsByUser.get(userId) ?? 0);
      const overall = (await presence.states([userId])).get(userId) ?? PresenceState.OFFLINE;
      const user = this.byUser.get(userId);
      if (user) {
        if (user.state === overall) return;
        user.state = overall;
      }
      // Announce on every room of this node where the user is known as a member.
      for (const channel of this.channels.values()) {
        if (!channel.presence.has(userId) || channel.presence.get(userId) === overall) continue;
        broker.publish(topics.room(channel.roomId), newEvent(channel.roomId, { case: "presenceChanged", value: { userId, state: overall } }));
      }
    } catch (error) {
      this.log.warn({ err: error, userId }, "presence update failed");
    }
  }

  /** Tells a new subscriber who of the room's members is online or away. */
  private async sendPresenceSnapshot(ws: Socket, state: SocketState, channel: RoomChannel): Promise<void> {
    try {
      if (channel.presence.size === 0) {
        const { members } = await this.options.services.rooms.listMembers({ roomId: channel.roomId, pageSize: 200 }, this.callOptions(state));
        const ids = members.map((m) => m.membership?.userId ?? "").filter(Boolean);
        const states = await this.options.presence.states(ids);
        for (const id of ids) channel.presence.set(id, states.get(id) ?? PresenceState.OFFLINE);
      }
      if (state.closed) return;
      for (const [userId, presence] of channel.presence) {
        if (presence === PresenceState.OFFLINE) continue;
        this.send(ws, new OutgoingFrame({ frame: { case: "presence", value: { userId, state: presence } } }));
      }
      // The subscriber is a member: make sure others see them.
      if (channel.presence.get(state.userId) !== this.byUser.get(state.userId)?.state) void this.updatePresence(state.userId);
    } catch (error) {
      this.log.debug({ err: error, roomId: channel.roomId }, "presence snapshot failed");
    }
  }

  /** Renews this node's entries, notices away users, and users of dead nodes going offline. */
  private async sweepPresence(): Promise<void> {
    for (const userId of this.byUser.keys()) await this.updatePresence(userId);
    const known = new Set<string>();
    for (const channel of this.channels.values()) for (const id of channel.presence.keys()) known.add(id);
    if (known.size === 0) return;
    try {
      const states = await this.options.presence.states([...known]);
      for (const channel of this.channels.values()) {
        for (const [userId, shown] of channel.presence) {
          const now = states.get(userId) ?? PresenceState.OFFLINE;
          if (now === shown) continue;
          channel.presence.set(userId, now);
          // Every node sweeps for itself, so this goes to local sockets only.
          this.broadcast(channel, new OutgoingFrame({ frame: { case: "presence", value: { userId, state: now } } }));
        }
      }
    } catch (error) {
      this.log.warn({ err: error }, "presence sweep failed");
    }
  }

  // ---- sending ----

  private send(ws: Socket, frame: OutgoingFrame): void {
    const state = ws.getUserData();
    if (state.closed) return;
    ws.send(frame.encoded(state.encoding), state.encoding === "proto");
  }

  private ack(ws: Socket, ref: string, value: { message?: Message; lastReadSeq?: bigint }): void {
    this.send(ws, new OutgoingFrame({ frame: { case: "ack", value: { ref, ...value } } }));
  }

  private sendError(ws: Socket, ref: string, code: string, message: string, roomId = "", retryAfterMs = 0): void {
    this.send(ws, new OutgoingFrame({ frame: { case: "error", value: { ref, code, message, roomId, retryAfterMs } } }));
  }
}

function memberFrame(
  kind: "memberJoined" | "memberLeft" | "memberKicked" | "memberRoleChanged",
  roomId: string,
  userId: string,
  event: object,
): OutgoingFrame {
  const { membership, byUserId } = event as { membership?: Membership; byUserId?: string };
  return new OutgoingFrame({ frame: { case: kind, value: { roomId, userId, membership, byUserId: byUserId ?? "" } } });
}

export { SUBPROTOCOLS };
