// A socket node: wires the socket tier's parts to uWebSockets.js. The upgrade (upgrade.ts,
// auth.ts), client frames (commands.ts, frame-limiter.ts, errors.ts), one RoomSequencer per
// room with subscribers here (sequencer.ts: order, holes, replay), events to frames (frames.ts),
// presence (room-presence.ts) and slow consumers (slow-consumers.ts). Fan-out uses one
// uWebSockets.js topic per room and encoding; every write to a socket is corked.
import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import pLimit, { type LimitFunction } from "p-limit";
import { rules, topics, type Broker, type Logger, type RateLimiter } from "@parley/kit";
import { PresenceState, type Event } from "@parley/proto/events/v1/events_pb";
import type { MessageService } from "@parley/proto/message/v1/message_pb";
import type { RoomService } from "@parley/proto/room/v1/room_pb";
import { SocketAuth, type AccessTokenVerifier, type SessionStates } from "./auth.js";
import { FrameCommands } from "./commands.js";
import { socketError } from "../public-error.js";
import { ackFrame, errorFrame, helloFrame, liveFrame, roomEventFrame, userEventFrame } from "./frames.js";
import { DEFAULT_LIMITS, type SocketLimits } from "./limits.js";
import type { PresenceStore } from "./presence.js";
import { CLOSE, decodeClientFrame, type FrameError, type OutgoingFrame, SUBPROTOCOLS } from "./protocol.js";
import { PRESENCE_SWEEP_MS, RoomPresence } from "./room-presence.js";
import { RoomSequencer } from "./sequencer.js";
import { SlowConsumers } from "./slow-consumers.js";
import { asUserOf, type RoomChannel, type Socket, type SocketState, type UserEntry } from "./state.js";
import { ORIGIN_REFUSED, originAdmitted, SocketsPerUser, upgradeHandler } from "./upgrade.js";
import type { TemplatedApp, Uws } from "./uws.js";

export type { SocketLimits };

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
  /** The internal secret shared with the edge: origins the edge's ticket names are allowed too (socket-origin.ts). */
  internalSecret: string;
  limits?: Partial<SocketLimits>;
}

const PAGE = 100;

export class SocketNode {
  readonly nodeId: string;
  private readonly app: TemplatedApp;
  private readonly limits: SocketLimits;
  private readonly log: Logger;
  private readonly channels = new Map<string, RoomChannel>();
  private readonly byUser = new Map<string, UserEntry>();
  private readonly counts = new SocketsPerUser();
  private readonly auth: SocketAuth;
  private readonly commands: FrameCommands;
  private readonly presence: RoomPresence;
  private readonly slow: SlowConsumers;
  private readonly timers: NodeJS.Timeout[] = [];
  private listenSocket: unknown;
  private readonly subscribeSlots: LimitFunction;
  private draining = false;

  constructor(private readonly options: SocketNodeOptions) {
    this.nodeId = options.nodeId ?? randomUUID();
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.log = options.log;
    this.subscribeSlots = pLimit(this.limits.subscribeConcurrency);
    this.auth = new SocketAuth(options.verifier, options.sessions);
    this.slow = new SlowConsumers(this.limits.slowConsumerBytes);
    this.commands = new FrameCommands({
      services: options.services,
      auth: this.auth,
      limiter: options.limiter,
      broker: options.broker,
      limits: this.limits,
      send: (ws, ...frames) => this.send(ws, ...frames),
      subscribe: (ws, state, ref, roomId, afterSeq) => this.subscribe(ws, state, ref, roomId, afterSeq),
      unsubscribe: (ws, roomId) => this.unsubscribe(ws, roomId),
      armExpiry: (ws, state) => this.armExpiry(ws, state),
    });
    this.presence = new RoomPresence({
      store: options.presence,
      broker: options.broker,
      nodeId: this.nodeId,
      awayAfterMs: this.limits.awayAfterMs,
      log: this.log,
      users: this.byUser,
      rooms: () => this.channels.values(),
      socketsHere: (userId) => this.counts.of(userId),
      memberIds: async (roomId, state) => {
        const { members } = await options.services.rooms.listMembers({ roomId, pageSize: 200 }, asUserOf(state));
        return members.map((m) => m.membership?.userId ?? "").filter(Boolean);
      },
      send: (ws, ...frames) => this.send(ws, ...frames),
    });
    this.app = options.uws.App();
    const allowedOrigins = new Set(options.allowedOrigins);
    this.app.ws<SocketState>("/ws", {
      maxPayloadLength: this.limits.maxFrameBytes * 4,
      idleTimeout: this.limits.idleTimeoutSeconds,
      sendPingsAutomatically: true,
      // The hard ceiling; the sweep closes slow sockets well before, with the slow-consumer code.
      maxBackpressure: this.limits.slowConsumerBytes * 4,
      closeOnBackpressureLimit: 1,
      upgrade: upgradeHandler({
        auth: this.auth,
        presence: options.presence,
        nodeId: this.nodeId,
        allowedOrigins,
        internalSecret: options.internalSecret,
        limits: this.limits,
        counts: this.counts,
        log: this.log,
        draining: () => this.draining,
      }),
      open: (ws) => this.open(ws),
      message: (ws, data, isBinary) => this.message(ws, data, isBinary),
      drain: (ws) => this.slow.drained(ws),
      close: (ws) => this.closed(ws),
    });
    // A plain GET of the socket URL: whether this browser's Origin may open a socket. A browser
    // cannot read the status of a refused upgrade, so the web app asks here after failed
    // attempts, to tell its user the socket tier refuses the origin (and what to set) instead
    // of reconnecting forever. It says only yes or no, to anyone (CORS open).
    this.app.get("/ws", (res, req) => {
      const origin = req.getHeader("origin") || undefined;
      const admitted = originAdmitted(origin, new URLSearchParams(req.getQuery() ?? ""), { allowedOrigins, internalSecret: options.internalSecret });
      const body = JSON.stringify(admitted ? { origin: "allowed" } : { origin: "refused", message: ORIGIN_REFUSED, setting: "PUBLIC_ORIGIN" });
      res.cork(() =>
        res
          .writeStatus(admitted ? "200 OK" : "403 Forbidden")
          .writeHeader("content-type", "application/json")
          .writeHeader("cache-control", "no-store")
          .writeHeader("access-control-allow-origin", "*")
          .end(body),
      );
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
    this.timers.push(setInterval(() => this.slow.sweep(this.openSockets()), 250));
    this.timers.push(setInterval(() => void this.checkHeads(), this.limits.headCheckMs));
    this.timers.push(setInterval(() => void this.presence.sweep(), PRESENCE_SWEEP_MS));
    this.timers.push(setInterval(() => void this.auth.sweep(this.openSockets(), this.log), this.limits.sessionSweepMs));
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
    for (const ws of [...this.openSockets()]) ws.end(CLOSE.serviceRestart, "server restarting: reconnect");
    await Promise.all([...this.channels.values()].map((c) => c.unsubscribe?.()));
    for (const channel of this.channels.values()) channel.sequencer.close();
    this.channels.clear();
    await Promise.all(userIds.map((userId) => this.options.presence.remove(userId, this.nodeId).catch(() => undefined)));
  }

  get socketCount(): number {
    let n = 0;
    for (const user of this.byUser.values()) n += user.sockets.size;
    return n;
  }

  private *openSockets(): Iterable<Socket> {
    for (const user of this.byUser.values()) yield* user.sockets;
  }

  // ---- connection lifecycle ----

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
    this.send(ws, helloFrame(state.userId, state.expiresAt, this.nodeId, this.limits.maxFrameBytes));
    void this.presence.update(state.userId);
  }

  private closed(ws: Socket): void {
    const state = ws.getUserData();
    state.closed = true;
    if (state.counted) {
      state.counted = false;
      this.counts.release(state.userId);
    }
    if (!state.started) return;
    clearTimeout(state.expiryTimer);
    this.slow.release(state);
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
    if (!this.draining) void this.presence.update(state.userId);
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
    const verdict = state.frames.take(now);
    if (verdict === "close") {
      ws.end(CLOSE.policyViolation, "too many frames");
      return;
    }
    let frame;
    try {
      frame = decodeClientFrame(data, isBinary, state.encoding);
    } catch (error) {
      const failure = error as FrameError;
      if (failure.invalidUtf8) {
        state.closed = true;
        ws.end(CLOSE.invalidPayload, "invalid UTF-8 in a text frame");
        return;
      }
      // The ref, when the frame could be read far enough to find it: a client matching replies by ref is answered.
      return this.send(ws, errorFrame(failure.ref, "INVALID_ARGUMENT", failure.message));
    }
    if (verdict === "refuse") return this.send(ws, errorFrame(frame.ref, "RESOURCE_EXHAUSTED", "too many frames; slow down"));
    if (frame.frame.case !== "ping") state.lastActivity = now;
    const { ref, frame: command } = frame;
    this.commands.handle(ws, state, frame).catch((error: unknown) => {
      if (state.closed) return;
      const roomId = command.case === "subscribe" || command.case === "unsubscribe" ? command.value.roomId : "";
      // A service that went away mid-call (or is restarting) is an outage: the client may retry, sends with the same clientMsgId.
      const failure = socketError(error);
      if (failure.severity === "bug") this.log.error({ err: error, frame: command.case }, "frame failed");
      else if (failure.severity === "outage") this.log.warn({ err: error, frame: command.case }, "service unavailable");
      this.send(ws, errorFrame(ref, failure.code, failure.message, roomId, failure.retryAfterMs, failure.field));
    });
  }

  // ---- subscriptions ----

  private async subscribe(ws: Socket, state: SocketState, ref: string, roomId: string, afterSeq: bigint | undefined): Promise<void> {
    if (!rules.uuid.safeParse(roomId).success) throw new ConnectError("roomId: must be a UUID", Code.InvalidArgument);
    if (state.subs.has(roomId)) return this.send(ws, ackFrame(ref));
    if (state.subs.size >= this.limits.maxRoomsPerSocket) throw new ConnectError("too many rooms on one socket", Code.ResourceExhausted);
    if (afterSeq !== undefined && afterSeq < 0n) throw new ConnectError("afterSeq: must not be negative", Code.InvalidArgument);
    // Waits for a slot; a socket that closed meanwhile gives its turn up at once.
    return this.subscribeSlots(() => (state.closed ? undefined : this.setUpSubscription(ws, state, ref, roomId, afterSeq)));
  }

  private async setUpSubscription(ws: Socket, state: SocketState, ref: string, roomId: string, afterSeq: bigint | undefined): Promise<void> {
    if (state.subs.has(roomId)) return this.send(ws, ackFrame(ref));
    const { membership } = await this.options.services.rooms.getMembership({ roomId, userId: state.userId });
    if (!membership) throw new ConnectError("room not found", Code.NotFound);
    if (state.closed || state.subs.has(roomId)) return;
    const token = Symbol(roomId);
    state.subs.set(roomId, token);
    const current = () => !state.closed && state.subs.get(roomId) === token;
    const channel = this.channelFor(roomId, state);
    channel.sockets.add(ws);
    await channel.ready;
    if (!current()) return;
    try {
      const live = await channel.sequencer.subscribe(ws, afterSeq, (backlog, lastSeq) => {
        // The boundary, in one corked write: what waited, then the topic, Live and the ack.
        if (state.closed) return;
        ws.cork(() => {
          for (const frame of backlog) this.write(ws, state, frame);
          ws.subscribe(channel.topics[state.encoding]);
          this.write(ws, state, liveFrame(roomId, lastSeq));
          this.write(ws, state, ackFrame(ref));
        });
      });
      if (live) void this.presence.snapshot(ws, state, channel);
    } catch (error) {
      // The replay failed: the client gets the error and may subscribe again.
      if (current()) this.unsubscribe(ws, roomId);
      throw error;
    }
  }

  private unsubscribe(ws: Socket, roomId: string): void {
    const state = ws.getUserData();
    if (!state.subs.delete(roomId)) return;
    this.leaveChannel(ws, roomId, true);
  }

  private channelFor(roomId: string, state: SocketState): RoomChannel {
    const existing = this.channels.get(roomId);
    if (existing) return existing;
    const topicsOf = { json: `${roomId}/j`, proto: `${roomId}/p` } as const;
    const channel: RoomChannel = {
      roomId,
      topics: topicsOf,
      sockets: new Set(),
      presence: new Map(),
      ready: Promise.resolve(),
      sequencer: new RoomSequencer<Socket>({
        pageSize: PAGE,
        read: (afterSeq, limit, ws) =>
          this.options.services.messages.listMessages({ roomId, cursor: { case: "afterSeq", value: afterSeq }, limit }, asUserOf(ws.getUserData())),
        output: {
          publish: (frame) => this.publish(topicsOf, frame),
          send: (ws, frames) => this.send(ws, ...frames),
          paced: (ws) => this.slow.paced(ws),
        },
        onFillError: (error) => this.log.warn({ err: error, roomId }, "could not fill a hole; the head check will retry"),
      }),
    };
    this.channels.set(roomId, channel);
    channel.ready = (async () => {
      channel.unsubscribe = await this.options.broker.subscribe(topics.room(roomId), (event) => this.onRoomEvent(channel, event));
      // The head as of now; events held meanwhile are ordered against it.
      const page = await this.options.services.messages.listMessages({ roomId, limit: 1 }, asUserOf(state));
      channel.sequencer.noteHead(page.lastSeq);
    })().catch((error: unknown) => {
      this.log.warn({ err: error, roomId }, "could not read the room's head; the head check will retry");
    });
    return channel;
  }

  private leaveChannel(ws: Socket, roomId: string, socketOpen: boolean): void {
    const channel = this.channels.get(roomId);
    if (!channel) return;
    if (socketOpen) ws.unsubscribe(channel.topics[ws.getUserData().encoding]);
    channel.sockets.delete(ws);
    channel.sequencer.unsubscribe(ws);
    if (channel.sockets.size === 0) {
      this.channels.delete(roomId);
      channel.sequencer.close();
      void channel.ready.then(() => channel.unsubscribe?.());
    }
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
          asUserOf(someone),
        );
        for (const stat of stats) this.channels.get(stat.roomId)?.sequencer.noteHead(stat.lastSeq);
      }
    } catch (error) {
      this.log.warn({ err: error }, "head check failed");
    }
  }

  // ---- events from the broker ----

  private onRoomEvent(channel: RoomChannel, event: Event): void {
    const { payload } = event;
    const { sequencer } = channel;
    switch (payload.case) {
      case "messageCreated":
        if (payload.value.message) sequencer.acceptCreated(payload.value.message);
        return;
      case "headBeacon":
        return sequencer.noteHead(payload.value.lastSeq);
      case "messageEdited":
      case "messageDeleted": {
        // A change to a message not yet delivered arrives with it: the fill reads its current state.
        const frame = roomEventFrame(channel.roomId, event);
        if (frame && payload.value.message) sequencer.acceptChanged(frame, payload.value.message.seq);
        return;
      }
      case "presenceChanged":
        channel.presence.set(payload.value.userId, payload.value.state);
        break;
      case "memberJoined": {
        const userId = payload.value.membership?.userId;
        if (userId) channel.presence.set(userId, channel.presence.get(userId) ?? PresenceState.OFFLINE);
        break;
      }
    }
    const frame = roomEventFrame(channel.roomId, event);
    if (!frame) return;
    sequencer.relay(frame);
    if (payload.case === "memberLeft" || payload.case === "memberKicked") {
      this.dropMember(channel.roomId, payload.value.userId, frame);
      channel.presence.delete(payload.value.userId);
    }
  }

  /** A member who left or was kicked stops receiving the room on every socket, now. */
  private dropMember(roomId: string, userId: string, frame: OutgoingFrame): void {
    for (const ws of this.byUser.get(userId)?.sockets ?? []) {
      const state = ws.getUserData();
      if (!state.subs.has(roomId)) continue;
      // A socket still replaying is not on the topic: it is told here.
      if (!this.channels.get(roomId)?.sequencer.isLive(ws)) this.send(ws, frame);
      this.unsubscribe(ws, roomId);
    }
  }

  private onUserEvent(userId: string, event: Event): void {
    const sockets = this.byUser.get(userId)?.sockets;
    if (!sockets) return;
    const { payload } = event;
    if (payload.case === "sessionsRevoked") {
      this.auth.markEnded(payload.value.sessionIds);
      for (const ws of [...sockets]) {
        if (payload.value.sessionIds.length === 0 || payload.value.sessionIds.includes(ws.getUserData().sessionId)) {
          ws.end(CLOSE.sessionsRevoked, "the session has ended; sign in again");
        }
      }
      return;
    }
    const mapped = userEventFrame(userId, event);
    if (!mapped) return;
    for (const ws of sockets) if (!mapped.outsideRoom || !ws.getUserData().subs.has(event.roomId)) this.send(ws, mapped.frame);
    // The room topic may have lost the event: make sure the subscription ends anyway.
    if ((payload.case === "memberLeft" || payload.case === "memberKicked") && payload.value.userId === userId) {
      this.dropMember(event.roomId, userId, mapped.frame);
    }
  }

  // ---- writing ----

  /** To every live subscriber of a room, once per encoding (uWebSockets.js corks each receiver). */
  private publish(topicsOf: Record<"json" | "proto", string>, frame: OutgoingFrame): void {
    for (const encoding of ["json", "proto"] as const) {
      const topic = topicsOf[encoding];
      if (this.app.numSubscribers(topic) > 0) this.app.publish(topic, frame.encoded(encoding), encoding === "proto");
    }
  }

  /** Writes frames to one socket in one cork: most writes follow an await, outside uWS's own corking. */
  private send(ws: Socket, ...frames: OutgoingFrame[]): void {
    const state = ws.getUserData();
    if (state.closed) return;
    ws.cork(() => {
      for (const frame of frames) this.write(ws, state, frame);
    });
  }

  private write(ws: Socket, state: SocketState, frame: OutgoingFrame): void {
    ws.send(frame.encoded(state.encoding), state.encoding === "proto");
  }
}

export { SUBPROTOCOLS };
