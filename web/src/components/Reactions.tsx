// The reactions under a message: a chip per emoji with its count, pressed when I reacted; a click
// toggles mine; the title (hover) and the accessible name say who reacted. Who reacted, by name, is
// also a sheet (a dialog): a long press on a chip (touch), its context menu (the keyboard's menu key,
// Shift+F10), or the "Who reacted" button after the chips, which Tab reaches.
import { createSignal, For, onCleanup, Show } from "solid-js";
import { emojiLabel } from "../lib/emoji";
import { usePeople } from "../lib/store/people";
import type { ChatMessage, Reaction } from "../lib/types";
import { Dialog } from "./Dialog";

/** How long a touch rests on a chip before it counts as a long press. */
export const LONG_PRESS_MS = 500;

export function Reactions(props: { message: ChatMessage; onToggle: (emoji: string, add: boolean) => void }) {
  const people = usePeople();
  const namesOf = (r: Reaction) => r.userIds.map((id) => (id === people.myId ? "you" : people.nameOf(id)));
  const who = (r: Reaction) => {
    const names = namesOf(r);
    const more = r.count - names.length;
    return `${names.join(", ")}${more > 0 ? ` and ${more} more` : ""}`;
  };
  // The emoji whose sheet is open ("" for all of them), or null.
  const [sheet, setSheet] = createSignal<string | null>(null);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let longPressed = false;
  const cancelPress = () => {
    clearTimeout(timer);
    timer = undefined;
  };
  onCleanup(cancelPress);

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
                onPointerDown={(event) => {
                  if (event.pointerType === "mouse") return;
                  longPressed = false;
                  cancelPress();
                  timer = setTimeout(() => {
                    longPressed = true;
                    setSheet(r.emoji);
                  }, LONG_PRESS_MS);
                }}
                on:touchend={(event) => {
                  // Lifting the finger after a long press: no click, so the sheet that just opened
                  // is not closed by it (the finger now rests on the sheet's backdrop) nor the reaction toggled.
                  if (longPressed) {
                    event.preventDefault();
                    longPressed = false;
                  }
                }}
                onPointerUp={cancelPress}
                onPointerCancel={cancelPress}
                onPointerLeave={cancelPress}
                onContextMenu={(event) => {
                  event.preventDefault();
                  // Mid touch press (the browser's own long press): its click must not toggle either.
                  if (timer !== undefined) longPressed = true;
                  cancelPress();
                  setSheet(r.emoji);
                }}
                onClick={() => {
                  // The click that ends a long press only closes it: it does not toggle.
                  if (longPressed) {
                    longPressed = false;
                    return;
                  }
                  props.onToggle(r.emoji, !mine());
                }}
              >
                <span class="reaction-emoji">{r.emoji}</span>
                <span class="reaction-count">{r.count}</span>
              </button>
            );
          }}
        </For>
        <button type="button" class="reaction reaction-who" aria-haspopup="dialog" title="Who reacted" onClick={() => setSheet("")}>
          <span aria-hidden="true">···</span>
          <span class="sr-only">Who reacted</span>
        </button>
      </div>
      <Show when={sheet() !== null}>
        <Dialog title="Reactions" onClose={() => setSheet(null)}>
          <ul class="reaction-sheet" data-testid="who-reacted">
            <For each={(props.message.reactions ?? []).filter((r) => sheet() === "" || r.emoji === sheet())}>
              {(r) => (
                <li class="reaction-sheet-row" data-emoji={r.emoji}>
                  <span class="reaction-sheet-emoji" aria-label={emojiLabel(r.emoji)} role="img">
                    {r.emoji}
                  </span>
                  <span class="reaction-sheet-names">
                    <span class="muted small">
                      {emojiLabel(r.emoji)} · {r.count}
                    </span>
                    <span>
                      <For each={namesOf(r)}>
                        {(name, i) => (
                          <>
                            {i() > 0 ? ", " : ""}
                            <bdi>{name}</bdi>
                          </>
                        )}
                      </For>
                      {r.count > r.userIds.length ? ` and ${r.count - r.userIds.length} more` : ""}
                    </span>
                  </span>
                </li>
              )}
            </For>
          </ul>
          <Show when={sheet() !== ""}>
            <button type="button" class="link-button small" onClick={() => setSheet("")}>
              Show every reaction
            </button>
          </Show>
        </Dialog>
      </Show>
    </Show>
  );
}
