// An emoji picker: search by name, shortcode or tag, recently used first (localStorage), a skin
// tone choice, arrow keys across the grid, Escape closes. Used by the composer and by a message's
// "Add reaction". The data ships with the app (lib/emoji.ts).
import { createMemo, createSignal, For, onCleanup, onMount, Show } from "solid-js";
import { emojiLabel, noteRecentEmoji, recentEmoji, saveSkinTone, savedSkinTone, searchEmoji, SKIN_TONES, withSkinTone } from "../lib/emoji";
import "./EmojiPicker.css";

let pickers = 0;

export function EmojiPicker(props: { label: string; onPick: (emoji: string) => void; onClose: () => void }) {
  const id = `emoji-picker-${++pickers}`;
  const [query, setQuery] = createSignal("");
  const [tone, setTone] = createSignal(savedSkinTone());
  const recent = recentEmoji();
  const results = createMemo(() => searchEmoji(query(), 160).map((g) => ({ emoji: withSkinTone(g.emoji, tone()), name: g.names[0]!, label: g.description })));
  let root!: HTMLDivElement;
  let search!: HTMLInputElement;

  onMount(() => search.focus());
  const outside = (e: PointerEvent) => {
    if (!root.contains(e.target as Node)) props.onClose();
  };
  onMount(() => document.addEventListener("pointerdown", outside, true));
  onCleanup(() => document.removeEventListener("pointerdown", outside, true));

  const pick = (emoji: string) => {
    noteRecentEmoji(emoji);
    props.onPick(emoji);
  };
  const moveFocus = (e: KeyboardEvent) => {
    const buttons = [...root.querySelectorAll<HTMLButtonElement>(".emoji-grid button")];
    const at = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 8, ArrowUp: -8 }[e.key];
    if (step === undefined) return;
    e.preventDefault();
    const next = at < 0 ? 0 : Math.max(0, Math.min(buttons.length - 1, at + step));
    buttons[next]?.focus();
  };

  return (
    <div
      class="emoji-picker"
      ref={root}
      role="dialog"
      aria-label={props.label}
      data-testid="emoji-picker"
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.preventDefault();
          e.stopPropagation();
          props.onClose();
        } else moveFocus(e);
      }}
    >
      <div class="emoji-picker-head">
        <label class="sr-only" for={`${id}-search`}>
          Search emoji
        </label>
        <input
          id={`${id}-search`}
          ref={search}
          type="search"
          placeholder="Search emoji"
          autocomplete="off"
          value={query()}
          onInput={(e) => setQuery(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              const first = results()[0];
              if (first) pick(first.emoji);
            }
          }}
        />
        <label class="sr-only" for={`${id}-tone`}>
          Skin tone
        </label>
        <select
          id={`${id}-tone`}
          value={tone()}
          title="Skin tone"
          onChange={(e) => {
            setTone(e.currentTarget.value);
            saveSkinTone(e.currentTarget.value);
          }}
        >
          <For each={SKIN_TONES}>{(t) => <option value={t.modifier}>{t.modifier ? `✋${t.modifier}` : "✋"} {t.label}</option>}</For>
        </select>
      </div>
      <Show when={!query() && recent.length > 0}>
        <div class="emoji-section">Recently used</div>
        <div class="emoji-grid" role="group" aria-label="Recently used">
          <For each={recent}>
            {(emoji) => (
              <button type="button" aria-label={emojiLabel(emoji)} title={emojiLabel(emoji)} onClick={() => pick(emoji)}>
                {emoji}
              </button>
            )}
          </For>
        </div>
      </Show>
      <div class="emoji-section">{query() ? "Results" : "All emoji"}</div>
      <div class="emoji-grid" role="group" aria-label="Emoji">
        <For each={results()} fallback={<p class="muted small">No emoji found.</p>}>
          {(e) => (
            <button type="button" aria-label={`${e.label} :${e.name}:`} title={`:${e.name}:`} data-name={e.name} onClick={() => pick(e.emoji)}>
              {e.emoji}
            </button>
          )}
        </For>
      </div>
    </div>
  );
}
