// What the node keeps per socket (uWebSockets.js user data), per user and per room.
import { randomUUID } from "node:crypto";
import type { PresenceState } from "@parley/proto/events/v1/events_pb";
import { META, type Unsubscribe } from "@parley/kit";
import type { FrameLimiter } from "./frame-limiter.js";
import type { Encoding } from "./protocol.js";
import type { Event } from "@parley/proto/events/v1/events_pb";
import type { Message } from "@parley/proto/message/v1/message_pb";
import type { LaneSequencer } from "./sequencer.js";
import type { WebSocket } from "./uws.js";

export interface SocketState {
  id: string;
  userId: string;
  sessionId: string;
  expiresAt: number;
  encoding: Encoding;
  /** Rooms subscribed to (being replayed or live), each with a token of that subscription. */
  subs: Map<string, symbol>;
  /** Registered with the node (see SocketNode.open()). */
  started: boolean;
  /** Counted in SocketsPerUser (from the upgrade until close). */
  counted: boolean;
  closed: boolean;
  expiryTimer?: NodeJS.Timeout;
  frames: FrameLimiter;
  typingAt: Map<string, number>;
  lastActivity: number;
  drainWaiters: (() => void)[];
}

export type Socket = WebSocket<SocketState>;

/** A user with sockets on this node. */
export interface UserEntry {
  sockets: Set<Socket>;
  unsubscribe?: Promise<Unsubscribe>;
  /** The overall presence last announced for the user. */
  state: PresenceState;
}

/** A change of the room lane: an event of the room service, with its position (Event.change). */
export type RoomLaneItem = Event;

export type Lane = "messages" | "room";

/** A room with subscribers on this node. */
export interface RoomChannel {
  roomId: string;
  /** One uWebSockets.js topic per lane and encoding: a socket joins a lane's topic when that lane goes live for it. */
  topics: Record<Lane, Record<Encoding, string>>;
  sockets: Set<Socket>;
  /** The room's stream, one sequencer per lane (socket.proto, StreamPosition). Typing and presence ride the room lane's topic. */
  lanes: { messages: LaneSequencer<Socket, Message>; room: LaneSequencer<Socket, RoomLaneItem> };
  /** Subscribed to the room's broker topic and its heads read (or a read failed: the head check retries). */
  ready: Promise<void>;
  unsubscribe?: Unsubscribe;
  /** Member ids and the presence last announced for them on this node. */
  presence: Map<string, PresenceState>;
}

/** Call options of a service call made on behalf of the socket's user (the services check membership). */
export function asUserOf(state: { userId: string; sessionId: string }) {
  return { headers: { [META.userId]: state.userId, [META.sessionId]: state.sessionId, [META.requestId]: randomUUID() } };
}
