// Create a room, browse and join public rooms, start a direct conversation, add people to a room.
import { DIRECT_GROUP, FIELDS, maxInputLength } from "@parley/proto/rules";
import { useNavigate } from "@solidjs/router";
import { createResource, createSignal, For, Show } from "solid-js";
import { api } from "../lib/api";
import { createSubmit } from "../lib/form";
import { useMembers } from "../lib/store/members";
import { usePeople } from "../lib/store/people";
import { useRooms } from "../lib/store/rooms";
import type { PublicRoom, User } from "../lib/types";
import { Avatar } from "./Avatar";
import { Dialog } from "./Dialog";
import { FormError } from "./FormError";
import { Icon } from "./Icon";
import { SearchList } from "./SearchList";

export function CreateRoomDialog(props: { onClose: () => void; onDone: () => void }) {
  const rooms = useRooms();
  const navigate = useNavigate();
  const [name, setName] = createSignal("");
  const [topic, setTopic] = createSignal("");
  const [visibility, setVisibility] = createSignal<"public" | "private">("public");
  const form = createSubmit();

  const submit = form.onSubmit(async () => {
    const room = await api.rooms.create.mutate({ name: name().trim(), topic: topic().trim() || undefined, visibility: visibility() });
    await rooms.refresh();
    props.onClose();
    props.onDone();
    navigate(`/rooms/${room.id}`);
  });

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
        <FormError error={form.error()} />
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => props.onClose()}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={form.busy() !== null || !name().trim()}>
            {form.busy() ? "Creating…" : "Create room"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function BrowseRoomsDialog(props: { onClose: () => void; onDone: () => void }) {
  const rooms = useRooms();
  const navigate = useNavigate();
  /** Busy with the id of the room being joined. */
  const form = createSubmit<string>();

  const open = (room: PublicRoom) =>
    form.run(async () => {
      if (!rooms.roomById(room.id)) {
        await api.rooms.join.mutate({ id: room.id });
        await rooms.refresh();
      }
      props.onClose();
      props.onDone();
      navigate(`/rooms/${room.id}`);
    }, room.id);

  return (
    <Dialog title="Browse public rooms" onClose={props.onClose} wide>
      <SearchList
        label="Search rooms"
        placeholder="Search rooms"
        search={async (q) => (await api.rooms.browse.query({ q: q || undefined, limit: 50 })).rooms}
        nothing="No public rooms found."
        error={form.error()}
      >
        {(room) => {
          const joined = () => rooms.roomById(room.id) !== undefined;
          const joining = () => form.busy() === room.id && !joined();
          return (
            <li class="result">
              <Icon name="hash" size={18} class="room-icon" />
              <div class="result-text">
                <strong dir="auto">{room.name}</strong>
                <span class="muted">
                  {room.memberCount} {room.memberCount === 1 ? "member" : "members"}
                  {room.topic ? <> · <bdi>{room.topic}</bdi></> : ""}
                </span>
              </div>
              <button type="button" class="button small" classList={{ primary: !joined() }} disabled={joining()} onClick={() => void open(room)} aria-label={`${joined() ? "Open" : "Join"} ${room.name}`}>
                {joined() ? "Open" : joining() ? "Joining…" : "Join"}
              </button>
            </li>
          );
        }}
      </SearchList>
    </Dialog>
  );
}

/** A person in a result list: avatar, name, @username and what follows it. */
export function PersonSummary(props: { user: User; presence?: boolean; status?: boolean }) {
  const people = usePeople();
  const name = () => props.user.displayName || props.user.username;
  return (
    <>
      <Avatar userId={props.user.id} name={name()} url={props.user.avatarUrl} size={32} presence={props.presence ? people.presence[props.user.id] : undefined} />
      <span class="result-text">
        <strong dir="auto">{name()}</strong>
        <span class="muted">
          @{props.user.username}
          {props.status && props.user.statusText ? <> · <bdi>{props.user.statusText}</bdi></> : ""}
        </span>
      </span>
    </>
  );
}

/**
 * A conversation with one person, or a group of up to 7 others (8 people with you): pick them, then
 * start it. The same people always get the same conversation; adding someone later is a new one.
 */
export function NewDirectDialog(props: { onClose: () => void; onDone: () => void }) {
  const people = usePeople();
  const rooms = useRooms();
  const navigate = useNavigate();
  const [picked, setPicked] = createSignal<User[]>([]);
  const form = createSubmit();
  const isPicked = (user: User) => picked().some((u) => u.id === user.id);
  const full = () => picked().length >= DIRECT_GROUP.maxPeople - 1;
  const nameOf = (user: User) => user.displayName || user.username;

  const toggle = (user: User) => setPicked((list) => (list.some((u) => u.id === user.id) ? list.filter((u) => u.id !== user.id) : [...list, user]));

  const start = () =>
    form.run(async () => {
      const ids = picked().map((u) => u.id);
      const room = await api.rooms.openDirect.mutate(ids.length === 1 ? { userId: ids[0]! } : { userIds: ids });
      await rooms.refresh();
      props.onClose();
      props.onDone();
      navigate(`/rooms/${room.id}`);
    });

  return (
    <Dialog title="New direct message" onClose={props.onClose} wide>
      <div class="picked" aria-live="polite">
        <span class="muted small" id="picked-label">
          {picked().length === 0 ? "Pick one person, or up to 7 for a group." : `With (${picked().length}):`}
        </span>
        <ul class="chips" aria-labelledby="picked-label">
          <For each={picked()}>
            {(user) => (
              <li class="chip">
                <bdi>{nameOf(user)}</bdi>
                <button type="button" class="chip-remove" aria-label={`Remove ${nameOf(user)}`} onClick={() => toggle(user)}>
                  <Icon name="close" size={12} />
                </button>
              </li>
            )}
          </For>
        </ul>
      </div>
      <SearchList
        label="Find people"
        placeholder="Find people by name or username"
        search={people.search}
        prompt="Type a name to find someone."
        nothing="Nobody found."
        error={form.error()}
      >
        {(user) => (
          <li>
            <button
              type="button"
              class="result result-button"
              aria-pressed={isPicked(user)}
              disabled={!isPicked(user) && full()}
              onClick={() => toggle(user)}
            >
              <PersonSummary user={user} presence status />
              <Show when={isPicked(user)}>
                <span class="muted small">Picked</span>
              </Show>
            </button>
          </li>
        )}
      </SearchList>
      <div class="dialog-actions">
        <button type="button" class="button" onClick={() => props.onClose()}>
          Cancel
        </button>
        <button type="button" class="button primary" disabled={picked().length === 0 || form.busy() !== null} onClick={() => void start()}>
          {picked().length > 1 ? `Start group of ${picked().length + 1}` : "Start conversation"}
        </button>
      </div>
    </Dialog>
  );
}

export function AddPeopleDialog(props: { roomId: string; roomName: string; onClose: () => void }) {
  const people = usePeople();
  const roomMembers = useMembers();
  // Who is in the room when the dialog opens: they are not offered.
  const inRoom = roomMembers.load(props.roomId).then(
    (list) => new Set(list.map((m) => m.userId)),
    () => new Set<string>(),
  );
  const [members] = createResource(() => inRoom);
  const [added, setAdded] = createSignal<ReadonlySet<string>>(new Set());
  /** Busy with the id of the person being added. */
  const form = createSubmit<string>();
  const isMember = (id: string) => added().has(id) || (members.latest?.has(id) ?? false);

  const add = (user: User) =>
    form.run(async () => {
      await api.rooms.invite.mutate({ id: props.roomId, userId: user.id });
      setAdded((set) => new Set([...set, user.id]));
    }, user.id);

  return (
    <Dialog title={`Add people to #${props.roomName}`} onClose={props.onClose} wide>
      <SearchList
        label="Find people"
        placeholder="Find people by name or username"
        search={async (q) => {
          // People already in the room are left out; those added here stay, marked "Added".
          const [found, existing] = await Promise.all([people.search(q), inRoom]);
          return found.filter((u) => !existing.has(u.id) || added().has(u.id));
        }}
        prompt="Type a name to find someone."
        nothing="Nobody found who is not in the room already."
        error={form.error()}
      >
        {(user) => (
          <li class="result">
            <PersonSummary user={user} />
            <Show when={!isMember(user.id)} fallback={<span class="muted small">{added().has(user.id) ? "Added" : "Member"}</span>}>
              <button
                type="button"
                class="button small primary"
                disabled={form.busy() === user.id}
                aria-label={`Add ${user.displayName || user.username}`}
                onClick={() => void add(user)}
              >
                Add
              </button>
            </Show>
          </li>
        )}
      </SearchList>
      <div class="dialog-actions">
        <button type="button" class="button" onClick={() => props.onClose()}>
          Done
        </button>
      </div>
    </Dialog>
  );
}
