// The live connection: the one LiveClient, its state, and the rooms it is subscribed to.
// The stores reach the socket through it; lib/chat.ts wires its events into them.
import { createSignal } from "solid-js";
import type { LiveClient, SubscribeFrom } from "@parley/client";
import type { ConnectionState } from "../live";
import { lastChangeOf } from "../types";
import { useChat } from "./context";

export type Connection = ReturnType<typeof createConnection>;

/** What the app knows of a room, as the API gives it: its newest seq, and its stream positions when told. */
export interface RoomFrom {
  lastSeq: number;
  /** The message lane: a page's lastChange (ListMessages.last_change). */
  messages?: number;
  /** The room lane: the room's lastChange (Room.last_change). */
  room?: number;
}

function toSubscribeFrom(from: RoomFrom): SubscribeFrom {
  return {
    lastSeq: BigInt(from.lastSeq),
    ...(from.messages !== undefined && { messages: BigInt(from.messages) }),
    ...(from.room !== undefined && { room: BigInt(from.room) }),
  };
}

/** What the badge shows: the socket's state, or "offline" while the browser says the network is gone. */
export type ShownState = ConnectionState | "offline";

export function createConnection() {
  const [socketState, setState] = createSignal<ConnectionState>("connecting");
  const [online, setOnline] = createSignal(typeof navigator === "undefined" ? true : navigator.onLine !== false);
  let client: LiveClient | undefined;
  const subscribed = new Set<string>();
  const state = (): ShownState => (!online() && socketState() !== "live" ? "offline" : socketState());
  // The browser knows before the socket does: give the socket up when the network goes, and come
  // back at once (not after the backoff) when it returns.
  const onOffline = () => {
    setOnline(false);
    client?.dropConnection();
  };
  const onOnline = () => {
    setOnline(true);
    client?.reconnectNow();
  };
  if (typeof window !== "undefined") {
    window.addEventListener("offline", onOffline);
    window.addEventListener("online", onOnline);
  }

  return {
    state,
    /** The socket's own state (the badge's data-state), whatever the browser says of the network. */
    socketState,
    /** The client, once there is one (requests made before the socket is up wait for it). */
    client: (): LiveClient | undefined => client,
    /** The client only while the socket is up (for what is not worth queueing). */
    live: (): LiveClient | undefined => (socketState() === "live" ? client : undefined),
    attach(next: LiveClient): void {
      client = next;
      next.on("state", setState);
    },
    /** Starts receiving a room from what we have of it, unless it is received already (the client resumes it by itself). */
    subscribe(roomId: string, from: RoomFrom): void {
      if (subscribed.has(roomId)) return;
      subscribed.add(roomId);
      client?.subscribe(roomId, toSubscribeFrom(from));
    },
    /**
     * A page of the room was read: the client learns where it stands in the room's stream, and
     * replays from there if it was further on (a change between the page and the stream is never
     * skipped). The room lane goes only to a client that does not know its own.
     */
    resume(roomId: string, from: RoomFrom): void {
      subscribed.add(roomId);
      const known = client?.position(roomId) !== undefined;
      client?.subscribe(roomId, toSubscribeFrom(known ? { lastSeq: from.lastSeq, messages: from.messages } : from));
    },
    /** Keeps the subscriptions to exactly these rooms. */
    follow(rooms: readonly { id: string; lastSeq: number }[]): void {
      const ids = new Set(rooms.map((r) => r.id));
      for (const room of rooms) this.subscribe(room.id, { lastSeq: room.lastSeq, room: lastChangeOf(room) });
      for (const id of [...subscribed]) {
        if (!ids.has(id)) {
          subscribed.delete(id);
          client?.unsubscribe(id);
        }
      }
    },
    /** The server stopped sending the room (we left, were removed, or it refused). */
    dropped(roomId: string): void {
      subscribed.delete(roomId);
    },
    isSubscribed: (roomId: string): boolean => subscribed.has(roomId),
    close(): void {
      if (typeof window !== "undefined") {
        window.removeEventListener("offline", onOffline);
        window.removeEventListener("online", onOnline);
      }
      client?.close();
      client = undefined;
    },
  };
}

export const useConnection = (): Connection => useChat().connection;
