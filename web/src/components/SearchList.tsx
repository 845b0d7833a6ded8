// A search box over a list of results: the query is debounced, the results load as you
// type, and the list says when it is searching, found nothing or failed. Each dialog
// says only how to search and how one result looks (an <li>).
import { createEffect, createResource, createSignal, For, on, onCleanup, Show, type JSX } from "solid-js";
import { errorMessage } from "../lib/api";
import type { FormError as FormErrorShape } from "../lib/form";
import { FormError } from "./FormError";
import { Icon } from "./Icon";
import "./SearchList.css";

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

export function SearchList<T>(props: {
  /** The search box's accessible name. */
  label: string;
  placeholder: string;
  search: (query: string) => Promise<T[]>;
  /** Shown until something is typed; without it, the empty query is searched too. */
  prompt?: string;
  /** Shown when the search found nothing. */
  nothing: string;
  /** What went wrong with the last action on a result. */
  error: FormErrorShape | null;
  children: (item: T, index: () => number) => JSX.Element;
  /** The query the box starts with. */
  initial?: string;
  /** Searched again (at once) when this changes: options beside the query (an order, a filter). */
  options?: () => unknown;
  /** Told the (debounced, trimmed) query each time it is searched. */
  onQuery?: (query: string) => void;
  /** Between the box and the list (options, help). */
  before?: JSX.Element;
  /** After the list, while it shows results ("Load more"). */
  after?: JSX.Element;
  /** A combobox over a listbox (a quick switcher): the list's id, the active option's id, and keys on the box. */
  listbox?: { id: string; activeId: () => string | undefined; onKeyDown: (event: KeyboardEvent) => void };
  /** Class of the results' box (the dialogs' is a fixed-height scroller). */
  class?: string;
}) {
  const [query, setQuery] = createSignal(props.initial ?? "");
  const q = debounced(() => query().trim(), 250);
  const [results] = createResource(
    () => (props.prompt && !q() ? false : ([q(), props.options?.()] as const)),
    ([text]) => {
      props.onQuery?.(text);
      return props.search(text);
    },
  );
  return (
    <>
      <label class="field search-field">
        <span class="sr-only">{props.label}</span>
        <Icon name="search" size={16} />
        <input
          type="search"
          placeholder={props.placeholder}
          autofocus
          value={query()}
          onInput={(e) => setQuery(e.currentTarget.value)}
          role={props.listbox ? "combobox" : undefined}
          aria-expanded={props.listbox ? (results.latest?.length ?? 0) > 0 : undefined}
          aria-controls={props.listbox?.id}
          aria-autocomplete={props.listbox ? "list" : undefined}
          aria-activedescendant={props.listbox?.activeId()}
          onKeyDown={(event) => props.listbox?.onKeyDown(event)}
        />
      </label>
      {props.before}
      <FormError error={props.error} />
      <div class={props.class ?? "result-list"} aria-busy={results.loading}>
        <Show when={!props.prompt || q()} fallback={<p class="muted">{props.prompt}</p>}>
          <Show when={!results.error} fallback={<p class="form-error">{errorMessage(results.error)}</p>}>
            <Show when={(results.latest?.length ?? 0) > 0} fallback={<p class="muted">{results.loading ? "Searching…" : props.nothing}</p>}>
              <ul id={props.listbox?.id} role={props.listbox ? "listbox" : undefined} aria-label={props.listbox ? props.label : undefined}>
                <For each={results.latest}>{(item, index) => props.children(item, index)}</For>
              </ul>
              {props.after}
            </Show>
          </Show>
        </Show>
      </div>
    </>
  );
}
