// Create a room, browse and join public rooms, start a direct conversation.
import { useNavigate } from "@solidjs/router";
import { createEffect, createResource, createSignal, For, on, onCleanup, Show } from "solid-js";
import { FIELDS, maxInputLength } from "@parley/proto/rules";
import { api, errorMessage } from "../lib/api";
import { useChat } from "../lib/chat";
import type { PublicRoom, User } from "../lib/types";
import { Avatar } from "./Avatar";
import { Dialog } from "./Dialog";
import { Icon } from "./Icon";

/** A value that follows `source` after it has been still for `ms`. */
function debounced<T>(source: () => T, ms: number): () => T {
  const [value, setValue] = createSignal(source());
  createEffect(
    on(source, (next) => {
      const timer = setTimeout(() => setValue(() => next), ms);
      onCleanup(() => clearTimeout(timer));
    }),
  );
  return value;
}

export function CreateRoomDialog(props: { onClose: () => void; onDone: () => void }) {
  const chat = useChat();
  const navigate = useNavigate();
  const [name, setName] = createSignal("");
  const [topic, setTopic] = createSignal("");
  const [visibility, setVisibility] = createSignal<"public" | "private">("public");
  const [error, setError] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal(false);

  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const room = await api.rooms.create.mutate({ name: name().trim(), topic: topic().trim() || undefined, visibility: visibility() });
      await chat.refreshRooms();
      props.onClose();
      props.onDone();
      navigate(`/rooms/${room.id}`);
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title="Create a room" onClose={props.onClose}>
      <form class="form" onSubmit={submit}>
        <label class="field">
          <span>Name</span>
          <input name="name" required maxLength={maxInputLength(FIELDS.roomName)} autofocus value={name()} onInput={(e) => setName(e.currentTarget.value)} placeholder="e.g. design-reviews" />
        </label>
        <label class="field">
          <span>
            Topic <small>(optional)</small>
          </span>
          <input name="topic" maxLength={maxInputLength(FIELDS.roomTopic)} value={topic()} onInput={(e) => setTopic(e.currentTarget.value)} placeholder="What is this room about?" />
        </label>
        <fieldset class="field choice">
          <legend>Who can join</legend>
          <label class="radio">
            <input type="radio" name="visibility" value="public" checked={visibility() === "public"} onChange={() => setVisibility("public")} />
            <span>
              <strong>Public</strong> — anyone can find and join it
            </span>
          </label>
          <label class="radio">
            <input type="radio" name="visibility" value="private" checked={visibility() === "private"} onChange={() => setVisibility("private")} />
            <span>
              <strong>Private</strong> — only people who are added
            </span>
          </label>
        </fieldset>
        <Show when={error()}>
          <p class="form-error" role="alert">
            {error()}
          </p>
        </Show>
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => props.onClose()}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={busy() || !name().trim()}>
            {busy() ? "Creating…" : "Create room"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function BrowseRoomsDialog(props: { onClose: () => void; onDone: () => void }) {
  const chat = useChat();
  const navigate = useNavigate();
  const [query, setQuery] = createSignal("");
  const q = debounced(() => query().trim(), 250);
  const [page] = createResource(q, (text) => api.rooms.browse.query({ q: text || undefined, limit: 50 }));
  const [joining, setJoining] = createSignal<string | null>(null);
  const [error, setError] = createSignal<string | null>(null);

  const open = async (room: PublicRoom) => {
    setError(null);
    try {
      if (!chat.roomById(room.id)) {
        setJoining(room.id);
        await api.rooms.join.mutate({ id: room.id });
        await chat.refreshRooms();
      }
      props.onClose();
      props.onDone();
      navigate(`/rooms/${room.id}`);
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setJoining(null);
    }
  };

  return (
    <Dialog title="Browse public rooms" onClose={props.onClose} wide>
      <label class="field search-field">
        <span class="sr-only">Search rooms</span>
        <Icon name="search" size={16} />
        <input type="search" placeholder="Search rooms" autofocus value={query()} onInput={(e) => setQuery(e.currentTarget.value)} />
      </label>
      <Show when={error()}>
        <p class="form-error" role="alert">
          {error()}
        </p>
      </Show>
      <div class="result-list" aria-busy={page.loading}>
        <Show when={!page.error} fallback={<p class="form-error">{errorMessage(page.error)}</p>}>
          <Show when={(page.latest?.rooms.length ?? 0) > 0} fallback={<p class="muted">{page.loading ? "Searching…" : "No public rooms found."}</p>}>
            <ul>
              <For each={page.latest?.rooms}>
                {(room) => (
                  <li class="result">
                    <Icon name="hash" size={18} class="room-icon" />
                    <div class="result-text">
                      <strong dir="auto">{room.name}</strong>
                      <span class="muted">
                        {room.memberCount} {room.memberCount === 1 ? "member" : "members"}
                        {room.topic ? <> · <bdi>{room.topic}</bdi></> : ""}
                      </span>
                    </div>
                    <button type="button" class="button small" classList={{ primary: !chat.roomById(room.id) }} disabled={joining() === room.id} onClick={() => void open(room)} aria-label={`${chat.roomById(room.id) ? "Open" : "Join"} ${room.name}`}>
                      {chat.roomById(room.id) ? "Open" : joining() === room.id ? "Joining…" : "Join"}
                    </button>
                  </li>
                )}
              </For>
            </ul>
          </Show>
        </Show>
      </div>
    </Dialog>
  );
}

export function NewDirectDialog(props: { onClose: () => void; onDone: () => void }) {
  const chat = useChat();
  const navigate = useNavigate();
  const [query, setQuery] = createSignal("");
  const q = debounced(() => query().trim(), 250);
  const [found] = createResource(
    () => q() || false,
    async (text) => {
      const { users } = await api.users.search.query({ q: text, limit: 20 });
      chat.rememberUsers(users);
      return users.filter((u) => u.id !== chat.myId);
    },
  );
  const [error, setError] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal<string | null>(null);

  const start = async (user: User) => {
    setBusy(user.id);
    setError(null);
    try {
      const room = await api.rooms.openDirect.mutate({ userId: user.id });
      await chat.refreshRooms();
      props.onClose();
      props.onDone();
      navigate(`/rooms/${room.id}`);
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setBusy(null);
    }
  };

  return (
    <Dialog title="New direct message" onClose={props.onClose} wide>
      <label class="field search-field">
        <span class="sr-only">Find people</span>
        <Icon name="search" size={16} />
        <input type="search" placeholder="Find people by name or username" autofocus value={query()} onInput={(e) => setQuery(e.currentTarget.value)} />
      </label>
      <Show when={error()}>
        <p class="form-error" role="alert">
          {error()}
        </p>
      </Show>
      <div class="result-list" aria-busy={found.loading}>
        <Show when={q()} fallback={<p class="muted">Type a name to find someone.</p>}>
          <Show when={(found.latest?.length ?? 0) > 0} fallback={<p class="muted">{found.loading ? "Searching…" : "Nobody found."}</p>}>
            <ul>
              <For each={found.latest}>
                {(user) => (
                  <li>
                    <button type="button" class="result result-button" disabled={busy() === user.id} onClick={() => void start(user)}>
                      <Avatar userId={user.id} name={user.displayName || user.username} url={user.avatarUrl} size={32} presence={chat.presence[user.id]} />
                      <span class="result-text">
                        <strong dir="auto">{user.displayName || user.username}</strong>
                        <span class="muted">@{user.username}{user.statusText ? <> · <bdi>{user.statusText}</bdi></> : ""}</span>
                      </span>
                    </button>
                  </li>
                )}
              </For>
            </ul>
          </Show>
        </Show>
      </div>
    </Dialog>
  );
}

export function AddPeopleDialog(props: { roomId: string; roomName: string; onClose: () => void }) {
  const chat = useChat();
  const [query, setQuery] = createSignal("");
  const q = debounced(() => query().trim(), 250);
  const [members] = createResource(() => props.roomId, (id) => chat.loadMembers(id));
  const [found] = createResource(
    () => q() || false,
    async (text) => {
      const { users } = await api.users.search.query({ q: text, limit: 20 });
      chat.rememberUsers(users);
      return users.filter((u) => u.id !== chat.myId);
    },
  );
  const [added, setAdded] = createSignal<ReadonlySet<string>>(new Set());
  const [error, setError] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal<string | null>(null);
  const isMember = (id: string) => added().has(id) || (members.latest ?? []).some((m) => m.userId === id);

  const add = async (user: User) => {
    setBusy(user.id);
    setError(null);
    try {
      await api.rooms.invite.mutate({ id: props.roomId, userId: user.id });
      setAdded((set) => new Set([...set, user.id]));
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setBusy(null);
    }
  };

  return (
    <Dialog title={`Add people to #${props.roomName}`} onClose={props.onClose} wide>
      <label class="field search-field">
        <span class="sr-only">Find people</span>
        <Icon name="search" size={16} />
        <input type="search" placeholder="Find people by name or username" autofocus value={query()} onInput={(e) => setQuery(e.currentTarget.value)} />
      </label>
      <Show when={error()}>
        <p class="form-error" role="alert">
          {error()}
        </p>
      </Show>
      <div class="result-list" aria-busy={found.loading}>
        <Show when={q()} fallback={<p class="muted">Type a name to find someone.</p>}>
          <Show when={(found.latest?.length ?? 0) > 0} fallback={<p class="muted">{found.loading ? "Searching…" : "Nobody found."}</p>}>
            <ul>
              <For each={found.latest}>
                {(user) => (
                  <li class="result">
                    <Avatar userId={user.id} name={user.displayName || user.username} url={user.avatarUrl} size={32} />
                    <span class="result-text">
                      <strong dir="auto">{user.displayName || user.username}</strong>
                      <span class="muted">@{user.username}</span>
                    </span>
                    <Show when={!isMember(user.id)} fallback={<span class="muted small">{added().has(user.id) ? "Added" : "Member"}</span>}>
                      <button
                        type="button"
                        class="button small primary"
                        disabled={busy() === user.id}
                        aria-label={`Add ${user.displayName || user.username}`}
                        onClick={() => void add(user)}
                      >
                        Add
                      </button>
                    </Show>
                  </li>
                )}
              </For>
            </ul>
          </Show>
        </Show>
      </div>
      <div class="dialog-actions">
        <button type="button" class="button" onClick={() => props.onClose()}>
          Done
        </button>
      </div>
    </Dialog>
  );
}
