// The quick switcher (issue 17; Ctrl+K / Cmd+K): rooms and conversations of mine, and people, as
// you type. Arrow keys move through the options, Enter opens the room (or the direct conversation
// with the person), Escape closes and focus goes back where it was. A combobox over a listbox.
import { useNavigate } from "@solidjs/router";
import { createSignal, createUniqueId, Match, Switch } from "solid-js";
import { api } from "../lib/api";
import { createSubmit } from "../lib/form";
import { usePeople } from "../lib/store/people";
import { useRooms } from "../lib/store/rooms";
import type { RoomSummary, User } from "../lib/types";
import { Dialog } from "./Dialog";
import { Icon } from "./Icon";
import { PersonSummary } from "./RoomDialogs";
import { SearchList } from "./SearchList";
import "../routes/SearchView.css";

type Option = { kind: "room"; room: RoomSummary } | { kind: "person"; user: User };

/** How many rooms the switcher lists. */
const ROOMS_SHOWN = 8;

export function QuickSwitcher(props: { onClose: () => void; onNavigate: () => void }) {
  const people = usePeople();
  const rooms = useRooms();
  const navigate = useNavigate();
  const listId = createUniqueId();
  const [options, setOptions] = createSignal<Option[]>([]);
  const [active, setActive] = createSignal(0);
  const form = createSubmit();
  const optionId = (index: number) => `${listId}-${index}`;

  const search = async (q: string): Promise<Option[]> => {
    const needle = q.toLowerCase().replace(/^[#@]/, "");
    const roomOptions: Option[] = rooms
      .rooms()
      .filter((room) => !needle || rooms.roomTitle(room).toLowerCase().includes(needle))
      .slice(0, ROOMS_SHOWN)
      .map((room) => ({ kind: "room", room }));
    // People with a conversation of their own listed already are not listed twice.
    const listed = new Set(roomOptions.flatMap((o) => (o.kind === "room" && o.room.visibility === "direct" ? [rooms.peerOf(o.room)] : [])));
    const found = needle ? await people.search(needle) : [];
    const personOptions: Option[] = found.filter((u) => u.id !== people.myId && !listed.has(u.id)).map((user) => ({ kind: "person", user }));
    const all = [...roomOptions, ...personOptions];
    setOptions(all);
    setActive(0);
    return all;
  };

  const choose = async (option: Option | undefined) => {
    if (!option || form.busy()) return;
    await form.run(async () => {
      const roomId = option.kind === "room" ? option.room.id : (await api.rooms.openDirect.mutate({ userId: option.user.id })).id;
      if (option.kind === "person") await rooms.refresh();
      props.onClose();
      props.onNavigate();
      navigate(`/rooms/${roomId}`);
    });
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const count = options().length;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (count === 0) return;
      event.preventDefault();
      setActive((i) => (i + (event.key === "ArrowDown" ? 1 : count - 1)) % count);
      document.getElementById(optionId(active()))?.scrollIntoView({ block: "nearest" });
    } else if (event.key === "Enter") {
      event.preventDefault();
      void choose(options()[active()]);
    }
  };

  return (
    <Dialog title="Jump to" onClose={props.onClose} description="Rooms, conversations and people. ↑ ↓ to move, Enter to open, Esc to close.">
      <SearchList<Option>
        label="Jump to a room or person"
        placeholder="Room or person"
        search={search}
        nothing="No room or person found."
        error={form.error()}
        listbox={{ id: listId, activeId: () => (options().length > 0 ? optionId(active()) : undefined), onKeyDown }}
      >
        {(option, index) => (
          <li
            id={optionId(index())}
            role="option"
            aria-selected={active() === index()}
            class="switcher-option"
            data-testid="switcher-option"
            onMouseMove={() => setActive(index())}
            onClick={() => void choose(option)}
          >
            <span class="result">
              <Switch>
                <Match when={option.kind === "room" && option.room}>
                  {(room) => (
                    <>
                      <Icon name={room().visibility === "direct" ? "at" : room().visibility === "private" ? "lock" : "hash"} size={16} />
                      <span class="result-text">
                        <strong dir="auto">{rooms.roomTitle(room())}</strong>
                      </span>
                      <span class="muted small switcher-kind">{room().visibility === "direct" ? "Conversation" : "Room"}</span>
                    </>
                  )}
                </Match>
                <Match when={option.kind === "person" && option.user}>
                  {(user) => (
                    <>
                      <PersonSummary user={user()} />
                      <span class="muted small switcher-kind">Person</span>
                    </>
                  )}
                </Match>
              </Switch>
            </span>
          </li>
        )}
      </SearchList>
    </Dialog>
  );
}
