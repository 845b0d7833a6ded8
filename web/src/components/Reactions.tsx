// The reactions under a message: a chip per emoji with its count, pressed when I reacted; a click
// toggles mine; the title (hover, long press, and the accessible name) says who reacted.
import { For, Show } from "solid-js";
import { emojiLabel } from "../lib/emoji";
import { usePeople } from "../lib/store/people";
import type { ChatMessage, Reaction } from "../lib/types";

export function Reactions(props: { message: ChatMessage; onToggle: (emoji: string, add: boolean) => void }) {
  const people = usePeople();
  const who = (r: Reaction) => {
    const names = r.userIds.map((id) => (id === people.myId ? "you" : people.nameOf(id)));
    const more = r.count - names.length;
    return `${names.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
  };
  return (
    <Show when={props.message.reactions?.length}>
      <div class="reactions" role="group" aria-label="Reactions">
        <For each={props.message.reactions}>
          {(r) => {
            const mine = () => r.userIds.includes(people.myId ?? "");
            return (
              <button
                type="button"
                class="reaction"
                classList={{ mine: mine() }}
                aria-pressed={mine()}
                data-emoji={r.emoji}
                title={`${emojiLabel(r.emoji)}: ${who(r)}`}
                aria-label={`${emojiLabel(r.emoji)}, ${r.count}: ${who(r)}`}
                onClick={() => props.onToggle(r.emoji, !mine())}
              >
                <span class="reaction-emoji">{r.emoji}</span>
                <span class="reaction-count">{r.count}</span>
              </button>
            );
          }}
        </For>
      </div>
    </Show>
  );
}
