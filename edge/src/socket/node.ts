// A socket node: wires the socket tier's parts to uWebSockets.js. The upgrade (upgrade.ts,
// auth.ts), client frames (commands.ts, frame-limiter.ts, errors.ts), one RoomSequencer per
// room with subscribers here, one per lane of its stream (sequencer.ts: order, holes, replay), events to frames (frames.ts),
// presence (room-presence.ts) and slow consumers (slow-consumers.ts). Fan-out uses one
// uWebSockets.js topic per room and encoding; every write to a socket is corked.
import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import pLimit, { type LimitFunction } from "p-limit";
import { rules, topics, type Broker, type Logger, type RateLimiter } from "@parley/kit";
import { PresenceState, type Event } from "@parley/proto/events/v1/events_pb";
import type { Message, MessageService } from "@parley/proto/message/v1/message_pb";
import type { Subscribe } from "@parley/proto/socket/v1/socket_pb";
import { BATCHES } from "@parley/proto/rules";
import type { RoomService } from "@parley/proto/room/v1/room_pb";
import { SocketAuth, type AccessTokenVerifier, type SessionStates } from "./auth.js";
import { FrameCommands } from "./commands.js";
import { socketError } from "../public-error.js";
import { ackFrame, errorFrame, helloFrame, liveFrame, messageFrame, roomChangeEvent, roomChangeFrame, roomEventFrame, userEventFrame } from "./frames.js";
import { DEFAULT_LIMITS, type SocketLimits } from "./limits.js";
import type { PresenceStore } from "@parley/kit";
import { CLOSE, decodeClientFrame, type FrameError, type OutgoingFrame, SUBPROTOCOLS } from "./protocol.js";
import { PRESENCE_SWEEP_MS, RoomPresence } from "./room-presence.js";
import { LaneSequencer, type ReplayFrom } from "./sequencer.js";
import { SlowConsumers } from "./slow-consumers.js";
import { asUserOf, type Lane, type RoomChannel, type RoomLaneItem, type Socket, type SocketState, type UserEntry } from "./state.js";
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
const LANES = ["messages", "room"] as const satisfies readonly Lane[];
/** The room lanes' heads are read every this many head checks (one call per room). */
const ROOM_LANE_CHECK_EVERY = 10;

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
  private headChecks = 0;

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
      subscribe: (ws, state, ref, request) => this.subscribe(ws, state, ref, request),
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
    for (const channel of this.channels.values()) for (const lane of LANES) channel.lanes[lane].close();
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

  private async subscribe(ws: Socket, state: SocketState, ref: string, request: Subscribe): Promise<void> {
    const { roomId, position, afterSeq } = request;
    if (!rules.uuid.safeParse(roomId).success) throw new ConnectError("roomId: must be a UUID", Code.InvalidArgument);
    if (!state.subs.has(roomId) && state.subs.size >= this.limits.maxRoomsPerSocket) {
      throw new ConnectError("too many rooms on one socket", Code.ResourceExhausted);
    }
    if (afterSeq !== undefined && afterSeq < 0n) throw new ConnectError("afterSeq: must not be negative", Code.InvalidArgument);
    if (position && position.messages < 0n) throw new ConnectError("position.messages: must not be negative", Code.InvalidArgument);
    if (position && position.room < 0n) throw new ConnectError("position.room: must not be negative", Code.InvalidArgument);
    // Where each lane's replay starts: a position replays both lanes; the deprecated after_seq
    // replays the message lane from its first message after that seq; neither replays nothing.
    const from = {
      messages: position ? { after: position.messages } : afterSeq !== undefined ? { afterSeq } : undefined,
      room: position ? { after: position.room } : undefined,
    } satisfies Record<Lane, ReplayFrom>;
    // Waits for a slot; a socket that closed meanwhile gives its turn up at once.
    return this.subscribeSlots(() => (state.closed ? undefined : this.setUpSubscription(ws, state, ref, roomId, from)));
  }

  /**
   * Replays both lanes after the client's position, then Live and the Ack. A subscription the
   * socket already has for the room is started over from the new position (a client recovering
   * from a hole); the earlier Subscribe, if still replaying, is acked when it gives way.
   */
  private async setUpSubscription(ws: Socket, state: SocketState, ref: string, roomId: string, from: Record<Lane, ReplayFrom>): Promise<void> {
    const { membership } = await this.options.services.rooms.getMembership({ roomId, userId: state.userId });
    if (!membership) throw new ConnectError("room not found", Code.NotFound);
    if (state.closed) return;
    const token = Symbol(roomId);
    const again = state.subs.has(roomId);
    state.subs.set(roomId, token);
    const current = () => !state.closed && state.subs.get(roomId) === token;
    const superseded = () => !state.closed && state.subs.has(roomId) && state.subs.get(roomId) !== token;
    const channel = this.channelFor(roomId, state);
    if (again) for (const lane of LANES) ws.unsubscribe(channel.topics[lane][state.encoding]);
    channel.sockets.add(ws);
    await channel.ready;
    if (!current()) return superseded() ? this.send(ws, ackFrame(ref)) : undefined;
    // Each lane goes live on its own, in one corked write: what waited for it, then its topic.
    const goLive = (lane: Lane) => (backlog: OutgoingFrame[]) => {
      if (state.closed) return;
      ws.cork(() => {
        for (const frame of backlog) this.write(ws, state, frame);
        ws.subscribe(channel.topics[lane][state.encoding]);
      });
    };
    try {
      const [messagesLive, roomLive] = await Promise.all([
        channel.lanes.messages.subscribe(ws, from.messages, goLive("messages")),
        channel.lanes.room.subscribe(ws, from.room, goLive("room")),
      ]);
      if (!messagesLive || !roomLive || !current()) return superseded() ? this.send(ws, ackFrame(ref)) : undefined;
      const { messages, room } = channel.lanes;
      this.send(ws, liveFrame(roomId, messages.lastSeq, { messages: messages.position ?? 0n, room: room.position ?? 0n }), ackFrame(ref));
      void this.presence.snapshot(ws, state, channel);
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
    const topicsOf = {
      messages: { json: `${roomId}/m/j`, proto: `${roomId}/m/p` },
      room: { json: `${roomId}/r/j`, proto: `${roomId}/r/p` },
    } as const;
    const { messages, rooms } = this.options.services;
    const output = (lane: Lane) => ({
      publish: (frame: OutgoingFrame) => this.publish(topicsOf[lane], frame),
      send: (ws: Socket, frames: OutgoingFrame[]) => this.send(ws, ...frames),
      paced: (ws: Socket) => this.slow.paced(ws),
    });
    const onFillError = (lane: Lane) => (error: unknown) =>
      this.log.warn({ err: error, roomId, lane }, "could not fill a hole; the head check will retry");
    const channel: RoomChannel = {
      roomId,
      topics: topicsOf,
      sockets: new Set(),
      presence: new Map(),
      ready: Promise.resolve(),
      lanes: {
        messages: new LaneSequencer<Socket, Message>({
          pageSize: PAGE,
          read: async (after, limit, ws, afterSeq) => {
            const page = await messages.listChanges({ roomId, after, afterSeq, limit }, asUserOf(ws.getUserData()));
            return { items: page.messages, hasMore: page.hasMore, lastChange: page.lastChange, lastSeq: page.lastSeq };
          },
          positionOf: (message) => message.change,
          seqOf: (message) => message.seq,
          frameOf: messageFrame,
          output: output("messages"),
          onFillError: onFillError("messages"),
        }),
        room: new LaneSequencer<Socket, RoomLaneItem>({
          pageSize: PAGE,
          read: async (after, limit, ws) => {
            const page = await rooms.listRoomChanges({ roomId, after, limit }, asUserOf(ws.getUserData()));
            return { items: page.changes.map((change) => roomChangeEvent(roomId, change)), hasMore: page.hasMore, lastChange: page.lastChange };
          },
          positionOf: (event) => event.change,
          frameOf: (event) => roomChangeFrame(roomId, event),
          delivered: (event) => this.roomChangeDelivered(channel, event),
          output: output("room"),
          onFillError: onFillError("room"),
        }),
      },
    };
    this.channels.set(roomId, channel);
    channel.ready = (async () => {
      channel.unsubscribe = await this.options.broker.subscribe(topics.room(roomId), (event) => this.onRoomEvent(channel, event));
      // The heads as of now; events held meanwhile are ordered against them.
      const [page, { room }] = await Promise.all([
        messages.listMessages({ roomId, limit: 1 }, asUserOf(state)),
        rooms.getRoom({ roomId }, asUserOf(state)),
      ]);
      channel.lanes.messages.noteHead(page.lastChange, page.lastSeq);
      channel.lanes.room.noteHead(room?.lastChange ?? 0n);
    })().catch((error: unknown) => {
      this.log.warn({ err: error, roomId }, "could not read the room's heads; the head check will retry");
    });
    return channel;
  }

  private leaveChannel(ws: Socket, roomId: string, socketOpen: boolean): void {
    const channel = this.channels.get(roomId);
    if (!channel) return;
    if (socketOpen) for (const lane of LANES) ws.unsubscribe(channel.topics[lane][ws.getUserData().encoding]);
    channel.sockets.delete(ws);
    for (const lane of LANES) channel.lanes[lane].unsubscribe(ws);
    if (channel.sockets.size === 0) {
      this.channels.delete(roomId);
      for (const lane of LANES) channel.lanes[lane].close();
      void channel.ready.then(() => channel.unsubscribe?.());
    }
  }

  /**
   * Compares every room's newest positions with what was delivered: catches events lost on the
   * broker. The message lanes in batches of GetRoomStats every check; the room lanes (rarer
   * changes, one call per room) every ROOM_LANE_CHECK_EVERY checks.
   */
  private async checkHeads(): Promise<void> {
    const channels = [...this.channels.values()].filter((c) => c.sockets.size > 0);
    if (channels.length === 0) return;
    const someone = channels[0]!.sockets.values().next().value!.getUserData();
    try {
      for (let i = 0; i < channels.length; i += BATCHES.roomStats) {
        const batch = channels.slice(i, i + BATCHES.roomStats);
        const { stats } = await this.options.services.messages.getRoomStats(
          { rooms: batch.map((c) => ({ roomId: c.roomId, lastReadSeq: 0n })) },
          asUserOf(someone),
        );
        for (const stat of stats) this.channels.get(stat.roomId)?.lanes.messages.noteHead(stat.lastChange, stat.lastSeq);
      }
    } catch (error) {
      this.log.warn({ err: error }, "head check failed");
    }
    if (++this.headChecks % ROOM_LANE_CHECK_EVERY !== 0) return;
    const probe = pLimit(4);
    await Promise.all(
      channels.map((channel) =>
        probe(async () => {
          const lane = channel.lanes.room;
          const reader = channel.sockets.values().next().value;
          if (lane.position === undefined || !reader) return;
          try {
            const page = await this.options.services.rooms.listRoomChanges(
              { roomId: channel.roomId, after: lane.position, limit: 1 },
              asUserOf(reader.getUserData()),
            );
            // Any change after the lane's position puts lastChange beyond it: the lane fills from there.
            lane.noteHead(page.lastChange);
          } catch (error) {
            this.log.warn({ err: error, roomId: channel.roomId }, "room lane head check failed");
          }
        }),
      ),
    );
  }

  // ---- events from the broker ----

  private onRoomEvent(channel: RoomChannel, event: Event): void {
    const { payload } = event;
    const { lanes } = channel;
    switch (payload.case) {
      case "messageCreated":
      case "messageEdited":
      case "messageDeleted":
        // A change without a position comes from a message service older than the stream: its
        // next head check or a fill reads it.
        if (payload.value.message && payload.value.message.change > 0n) lanes.messages.accept(payload.value.message);
        return;
      case "headBeacon":
        return lanes.messages.noteHead(payload.value.lastChange, payload.value.lastSeq);
      case "memberJoined":
      case "memberLeft":
      case "memberKicked":
      case "memberRoleChanged":
      case "roomUpdated":
        if (event.change > 0n) return lanes.room.accept(event);
        break; // from a room service older than the stream: relayed as before
      case "presenceChanged":
        channel.presence.set(payload.value.userId, payload.value.state);
        break;
    }
    const frame = roomEventFrame(channel.roomId, event);
    if (!frame) return;
    lanes.room.relay(frame);
    if (payload.case === "memberJoined" || payload.case === "memberLeft" || payload.case === "memberKicked") {
      this.roomChangeDelivered(channel, event);
    }
  }

  /** After a room lane change reached the room's subscribers here: presence, and a leaver's subscriptions end. */
  private roomChangeDelivered(channel: RoomChannel, event: Event): void {
    const { payload } = event;
    switch (payload.case) {
      case "memberJoined": {
        const userId = payload.value.membership?.userId;
        if (userId) channel.presence.set(userId, channel.presence.get(userId) ?? PresenceState.OFFLINE);
        return;
      }
      case "memberLeft":
      case "memberKicked": {
        const frame = event.change > 0n ? roomChangeFrame(channel.roomId, event) : roomEventFrame(channel.roomId, event);
        if (frame) this.dropMember(channel.roomId, payload.value.userId, frame);
        channel.presence.delete(payload.value.userId);
        return;
      }
    }
  }

  /** A member who left or was kicked stops receiving the room on every socket, now. */
  private dropMember(roomId: string, userId: string, frame: OutgoingFrame): void {
    for (const ws of this.byUser.get(userId)?.sockets ?? []) {
      const state = ws.getUserData();
      if (!state.subs.has(roomId)) continue;
      // A socket still replaying the room lane is not on its topic: it is told here.
      if (!this.channels.get(roomId)?.lanes.room.isLive(ws)) this.send(ws, frame);
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
