// Room members: loaded on demand (the people in them are remembered), and a version per
// room that membership changes from the room's stream (live, or replayed after a break) bump
// so an open member list loads again; a burst of them (a replay) makes one load.
import { createStore } from "solid-js/store";
import { api } from "../api";
import type { Member } from "../types";
import { useChat } from "./context";
import type { People } from "./people";

export type Members = ReturnType<typeof createMembers>;

export function createMembers(deps: { people: People }) {
  const [version, setVersion] = createStore<Record<string, number>>({});
  const bumps = new Map<string, ReturnType<typeof setTimeout>>();

  async function load(roomId: string): Promise<Member[]> {
    const { members } = await api.rooms.members.query({ id: roomId, limit: 200 });
    deps.people.rememberUsers(members.flatMap((m) => (m.user ? [m.user] : [])));
    return members;
  }

  return {
    load,
    /** Changes whenever someone joins, leaves, is removed from or changes role in the room. */
    version: (roomId: string): number | undefined => version[roomId],
    changed(roomId: string): void {
      if (bumps.has(roomId)) return;
      bumps.set(
        roomId,
        setTimeout(() => {
          bumps.delete(roomId);
          setVersion(roomId, (v) => (v ?? 0) + 1);
        }, 100),
      );
    },
    close(): void {
      for (const timer of bumps.values()) clearTimeout(timer);
      bumps.clear();
    },
  };
}

export const useMembers = (): Members => useChat().members;
