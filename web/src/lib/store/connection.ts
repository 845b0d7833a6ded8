// The live connection: the one LiveClient, its state, and the rooms it is subscribed to.
// The stores reach the socket through it; lib/chat.ts wires its events into them.
import { createSignal } from "solid-js";
import type { LiveClient } from "@parley/client";
import type { ConnectionState } from "../live";
import { useChat } from "./context";

export type Connection = ReturnType<typeof createConnection>;

export function createConnection() {
  const [state, setState] = createSignal<ConnectionState>("connecting");
  let client: LiveClient | undefined;
  const subscribed = new Set<string>();

  return {
    state,
    /** The client, once there is one (requests made before the socket is up wait for it). */
    client: (): LiveClient | undefined => client,
    /** The client only while the socket is up (for what is not worth queueing). */
    live: (): LiveClient | undefined => (state() === "live" ? client : undefined),
    attach(next: LiveClient): void {
      client = next;
      next.on("state", setState);
    },
    /** Starts receiving a room, from the last seq of the history we have, unless it is received already. */
    subscribe(roomId: string, afterSeq: number): void {
      if (subscribed.has(roomId)) return;
      subscribed.add(roomId);
      client?.subscribe(roomId, BigInt(afterSeq));
    },
    /** Keeps the subscriptions to exactly these rooms. */
    follow(rooms: readonly { id: string; lastSeq: number }[]): void {
      const ids = new Set(rooms.map((r) => r.id));
      for (const room of rooms) this.subscribe(room.id, room.lastSeq);
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
      client?.close();
      client = undefined;
    },
  };
}

export const useConnection = (): Connection => useChat().connection;
