// People: who each user id is (fetched once, on first sight), who I am, and everyone's presence.
import { createSignal } from "solid-js";
import { createStore, reconcile } from "solid-js/store";
import { api } from "../api";
import type { Presence } from "../live";
import type { User } from "../types";
import { useChat } from "./context";

export type People = ReturnType<typeof createPeople>;

export function createPeople(self: User) {
  const myId = self.id;
  const [me, setMeSignal] = createSignal<User>(self);
  const [users, setUsers] = createStore<Record<string, User>>({ [myId]: self });
  const [presence, setPresence] = createStore<Record<string, Presence>>({});
  const requested = new Set<string>();

  function ensureUser(id: string): void {
    if (!id || users[id] || requested.has(id)) return;
    requested.add(id);
    api.users.get.query({ id }).then(
      (user) => setUsers(id, user),
      () => requested.delete(id),
    );
  }

  function rememberUsers(list: readonly User[]): void {
    for (const user of list) setUsers(user.id, user);
  }

  function nameOf(id: string): string {
    const user = users[id];
    if (!user) {
      ensureUser(id);
      return "…";
    }
    return user.displayName || user.username;
  }

  /** People matching a name or username, me left out (the ones found are remembered). */
  async function search(q: string): Promise<User[]> {
    const { users: found } = await api.users.search.query({ q, limit: 20 });
    rememberUsers(found);
    return found.filter((u) => u.id !== myId);
  }

  return {
    myId,
    me,
    setMe(user: User): void {
      setMeSignal(user);
      setUsers(user.id, user);
    },
    users,
    presence,
    setPresence(userId: string, state: Presence): void {
      setPresence(userId, state);
    },
    clearPresence(): void {
      setPresence(reconcile({}));
    },
    ensureUser,
    rememberUsers,
    nameOf,
    search,
  };
}

export const usePeople = (): People => useChat().people;
