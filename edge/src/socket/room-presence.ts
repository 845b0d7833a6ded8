// Presence as this node shows it: each user's state from their sockets here (online, or away
// after inactivity), recorded in the PresenceStore (presence.ts) and announced on the rooms
// where the user is a member; a snapshot for each new subscriber; a sweep that renews this
// node's entries and notices users of other (or dead) nodes changing.
import { newEvent, topics, type Broker, type Logger } from "@parley/kit";
import { PresenceState } from "@parley/proto/events/v1/events_pb";
import { presenceFrame } from "./frames.js";
import type { PresenceStore } from "@parley/kit";
import type { OutgoingFrame } from "./protocol.js";
import type { RoomChannel, Socket, SocketState, UserEntry } from "./state.js";

const PRESENCE_TTL_MS = 45_000;
export const PRESENCE_SWEEP_MS = 15_000;

export interface RoomPresenceDeps {
  store: PresenceStore;
  broker: Broker;
  nodeId: string;
  awayAfterMs: number;
  log: Logger;
  users: ReadonlyMap<string, UserEntry>;
  rooms(): Iterable<RoomChannel>;
  socketsHere(userId: string): number;
  /** Ids of the room's members (the first 200), asked on behalf of a subscriber. */
  memberIds(roomId: string, state: SocketState): Promise<string[]>;
  send(ws: Socket, ...frames: OutgoingFrame[]): void;
}

export class RoomPresence {
  constructor(private readonly deps: RoomPresenceDeps) {}

  private localState(userId: string): PresenceState.ONLINE | PresenceState.AWAY | PresenceState.OFFLINE {
    const sockets = this.deps.users.get(userId)?.sockets;
    if (!sockets || sockets.size === 0) return PresenceState.OFFLINE;
    const now = Date.now();
    for (const ws of sockets) if (now - ws.getUserData().lastActivity < this.deps.awayAfterMs) return PresenceState.ONLINE;
    return PresenceState.AWAY;
  }

  /** Records this node's view of the user and announces a change of their overall state. */
  async update(userId: string): Promise<void> {
    const local = this.localState(userId);
    const { store, broker, nodeId } = this.deps;
    try {
      if (local === PresenceState.OFFLINE) await store.remove(userId, nodeId);
      else await store.set(userId, nodeId, local, PRESENCE_TTL_MS, this.deps.socketsHere(userId));
      const overall = (await store.states([userId])).get(userId) ?? PresenceState.OFFLINE;
      const user = this.deps.users.get(userId);
      if (user) {
        if (user.state === overall) return;
        user.state = overall;
      }
      // Announce on every room of this node where the user is known as a member.
      for (const channel of this.deps.rooms()) {
        if (!channel.presence.has(userId) || channel.presence.get(userId) === overall) continue;
        broker.publish(topics.room(channel.roomId), newEvent(channel.roomId, { case: "presenceChanged", value: { userId, state: overall } }));
      }
    } catch (error) {
      this.deps.log.warn({ err: error, userId }, "presence update failed");
    }
  }

  /** Tells a new subscriber who of the room's members is online or away. */
  async snapshot(ws: Socket, state: SocketState, channel: RoomChannel): Promise<void> {
    try {
      if (channel.presence.size === 0) {
        const ids = await this.deps.memberIds(channel.roomId, state);
        const states = await this.deps.store.states(ids);
        for (const id of ids) channel.presence.set(id, states.get(id) ?? PresenceState.OFFLINE);
      }
      if (state.closed) return;
      const frames = [...channel.presence].filter(([, presence]) => presence !== PresenceState.OFFLINE).map(([userId, presence]) => presenceFrame(userId, presence));
      if (frames.length > 0) this.deps.send(ws, ...frames);
      // The subscriber is a member: make sure others see them. One who joined after the room's
      // presence was read shows offline here (memberJoined), and update() announces only a change
      // of their overall state, which it is not when they are online in other rooms already:
      // announce their state on this room.
      const user = this.deps.users.get(state.userId);
      if (user && user.state !== PresenceState.OFFLINE && channel.presence.get(state.userId) !== user.state) {
        this.deps.broker.publish(topics.room(channel.roomId), newEvent(channel.roomId, { case: "presenceChanged", value: { userId: state.userId, state: user.state } }));
      } else if (channel.presence.get(state.userId) !== user?.state) void this.update(state.userId);
    } catch (error) {
      this.deps.log.debug({ err: error, roomId: channel.roomId }, "presence snapshot failed");
    }
  }

  /** Renews this node's entries, notices away users, and users of dead nodes going offline. */
  async sweep(): Promise<void> {
    for (const userId of [...this.deps.users.keys()]) await this.update(userId);
    const known = new Set<string>();
    for (const channel of this.deps.rooms()) for (const id of channel.presence.keys()) known.add(id);
    if (known.size === 0) return;
    try {
      const states = await this.deps.store.states([...known]);
      for (const channel of this.deps.rooms()) {
        for (const [userId, shown] of channel.presence) {
          const now = states.get(userId) ?? PresenceState.OFFLINE;
          if (now === shown) continue;
          channel.presence.set(userId, now);
          // Every node sweeps for itself, so this goes to local sockets only.
          channel.lanes.room.relay(presenceFrame(userId, now));
        }
      }
    } catch (error) {
      this.deps.log.warn({ err: error }, "presence sweep failed");
    }
  }
}
