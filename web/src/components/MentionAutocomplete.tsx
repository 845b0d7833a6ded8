// @mention autocomplete in the composer (issue 16): typing @ lists the room's members whose
// username or name starts with what follows, then @room and @here. ↑/↓ move, Enter or Tab picks,
// Escape closes, a click picks. An accessible listbox: the textarea owns it (aria-controls) and
// points at the active option with aria-activedescendant.
import { createMemo, createResource, createSignal, For, Show } from "solid-js";
import { api } from "../lib/api";
import { usePeople } from "../lib/store/people";

export interface MentionOption {
  /** What is inserted after "@". */
  name: string;
  label: string;
  detail: string;
}

const TOKEN_BEFORE_CARET = /(?:^|[^\p{L}\p{N}_.@/-])@([A-Za-z0-9_.-]{0,32})$/u;
const MAX_OPTIONS = 8;

export function createMentionAutocomplete(roomId: () => string, listboxId: string) {
  const people = usePeople();
  const [members] = createResource(roomId, async (id) => (await api.rooms.members.query({ id, limit: 100 })).members);
  const [query, setQuery] = createSignal<{ text: string; start: number } | null>(null);
  const [active, setActive] = createSignal(0);

  const options = createMemo<MentionOption[]>(() => {
    const q = query();
    if (!q) return [];
    const prefix = q.text.toLowerCase();
    const found: MentionOption[] = [];
    for (const member of members.latest ?? []) {
      const user = member.user;
      if (!user || user.id === people.myId) continue;
      const display = user.displayName || user.username;
      if (user.username.toLowerCase().startsWith(prefix) || display.toLowerCase().startsWith(prefix)) {
        found.push({ name: user.username, label: display, detail: `@${user.username}` });
      }
    }
    found.sort((a, b) => a.name.localeCompare(b.name));
    const broadcasts = [
      { name: "room", label: "@room", detail: "everyone in this room" },
      { name: "here", label: "@here", detail: "everyone in this room, for those online now" },
    ].filter((o) => o.name.startsWith(prefix));
    return [...found.slice(0, MAX_OPTIONS - broadcasts.length), ...broadcasts];
  });
  const open = () => options().length > 0;

  /** Reads the token before the caret after every input or caret move. */
  function track(input: HTMLTextAreaElement): void {
    const caret = input.selectionStart ?? input.value.length;
    const match = TOKEN_BEFORE_CARET.exec(input.value.slice(0, caret));
    const next = match ? { text: match[1]!, start: caret - match[1]!.length - 1 } : null;
    if (next?.text !== query()?.text || next?.start !== query()?.start) setActive(0);
    setQuery(next);
  }

  /** The body with the option in place of the token, and where the caret goes. */
  function apply(body: string, option: MentionOption, caret: number): { body: string; caret: number } {
    const q = query()!;
    const inserted = `@${option.name} `;
    setQuery(null);
    return { body: body.slice(0, q.start) + inserted + body.slice(caret), caret: q.start + inserted.length };
  }

  /** Handles a key while open; true when it was the autocomplete's. */
  function onKey(e: KeyboardEvent, pick: (option: MentionOption) => void): boolean {
    if (!open()) return false;
    const count = options().length;
    if (e.key === "ArrowDown") setActive((i) => (i + 1) % count);
    else if (e.key === "ArrowUp") setActive((i) => (i - 1 + count) % count);
    else if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") pick(options()[active()]!);
    else if (e.key === "Escape") setQuery(null);
    else return false;
    e.preventDefault();
    return true;
  }

  const optionId = (i: number) => `${listboxId}-option-${i}`;
  // The composer stays a (multi-line) textbox, which takes aria-autocomplete and
  // aria-activedescendant; the list it controls is there while open.
  const inputProps = () => ({
    "aria-autocomplete": "list" as const,
    "aria-controls": open() ? listboxId : undefined,
    "aria-activedescendant": open() ? optionId(active()) : undefined,
  });

  function Listbox(props: { onPick: (option: MentionOption) => void }) {
    return (
      <Show when={open()}>
        <ul class="mention-listbox" role="listbox" id={listboxId} aria-label="People to mention" data-testid="mention-listbox">
          <For each={options()}>
            {(option, i) => (
              <li
                role="option"
                id={optionId(i())}
                aria-selected={i() === active()}
                classList={{ active: i() === active() }}
                data-mention-option={option.name}
                onMouseDown={(e) => {
                  e.preventDefault();
                  props.onPick(option);
                }}
                onMouseEnter={() => setActive(i())}
              >
                <span class="mention-option-label" dir="auto">{option.label}</span>
                <span class="muted small">{option.detail}</span>
              </li>
            )}
          </For>
        </ul>
      </Show>
    );
  }

  return { track, apply, onKey, inputProps, Listbox, close: () => setQuery(null) };
}
