// Message search (issue 17): /search?q=…&order=newest&room=… over GET /search (messages.search) —
// the rooms I am in now, thread replies too. Results show room, sender, time and the matched
// snippet (text parts, the matches in <mark>); chips filter by room (from roomCounts); newest or
// most relevant first; "Load more" follows the cursor. Dates in the query are days of this
// browser's time zone. Opening a result opens its room at that message (highlighted), or the
// thread panel at a reply. The query syntax: docs/search.md, summarised in the help below.
import { useNavigate, useSearchParams } from "@solidjs/router";
import { createEffect, createSignal, createUniqueId, For, on, Show } from "solid-js";
import { createStore } from "solid-js/store";
import { api, errorMessage } from "../lib/api";
import { fullTimeOf, relativeTime } from "../lib/format";
import { useLayout } from "../lib/layout";
import { usePeople } from "../lib/store/people";
import { useRooms } from "../lib/store/rooms";
import type { RouterOutputs } from "../lib/types";
import { Icon } from "../components/Icon";
import { SearchList } from "../components/SearchList";
import "./SearchView.css";

type SearchPage = RouterOutputs["messages"]["search"];
export type SearchHit = SearchPage["hits"][number];
type Order = "relevance" | "newest";

/** This browser's IANA time zone: the days of before:, after: and on:. */
export const browserTimeZone = (): string | undefined => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || undefined;
  } catch {
    return undefined;
  }
};

/** Where a hit opens: its room at the message, or its thread at the reply. */
export function hitHref(message: SearchHit["message"]): string {
  return message.threadRootId && !message.alsoSentToRoom
    ? `/rooms/${message.roomId}?thread=${message.threadRootId}&reply=${message.seq}`
    : `/rooms/${message.roomId}#seq-${message.seq}`;
}

export function SearchSyntaxHelp() {
  return (
    <details class="search-help" data-testid="search-help">
      <summary>Search syntax</summary>
      <dl>
        <dt><code>deploy kube</code></dt>
        <dd>messages with every word (or a word starting with it)</dd>
        <dt><code>"exact phrase"</code></dt>
        <dd>that text exactly</dd>
        <dt><code>-word</code> <code>-"a phrase"</code></dt>
        <dd>leave those out</dd>
        <dt><code>from:@ada</code></dt>
        <dd>sent by that person</dd>
        <dt><code>in:#general</code> <code>in:"#my room"</code></dt>
        <dd>in that room of yours</dd>
        <dt><code>before:2026-12-01</code> <code>after:2026-11-01</code> <code>on:2026-11-15</code></dt>
        <dd>days in your time zone (before and after leave the day itself out)</dd>
        <dt><code>has:link</code></dt>
        <dd>messages with a link</dd>
        <dt><code>has:file</code> <code>has:image</code></dt>
        <dd>messages with a file attached, or an image</dd>
      </dl>
    </details>
  );
}

export function SearchView() {
  const people = usePeople();
  const rooms = useRooms();
  const layout = useLayout();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const queryParam = () => (typeof params.q === "string" ? params.q : "");
  // The box follows the URL when something else changes it (the sidebar's search box): started afresh.
  let reported = queryParam();
  const [box, setBox] = createSignal(1);
  createEffect(
    on(
      queryParam,
      (q) => {
        if (q.trim() === reported) return;
        reported = q.trim();
        setBox((n) => n + 1);
      },
      { defer: true },
    ),
  );
  const order = (): Order => (params.order === "newest" ? "newest" : "relevance");
  const room = () => (typeof params.room === "string" && params.room ? params.room : undefined);
  const orderId = createUniqueId();

  const [hits, setHits] = createStore<SearchHit[]>([]);
  const [counts, setCounts] = createSignal<{ query: string; roomCounts: SearchPage["roomCounts"]; capped: boolean } | null>(null);
  const [next, setNext] = createSignal<{ query: string; cursor: string } | null>(null);
  const [more, setMore] = createSignal<"idle" | "loading" | string>("idle");
  let generation = 0;

  const request = (q: string, cursor?: string) =>
    api.messages.search.query({ q, order: order(), tz: browserTimeZone(), roomId: room(), limit: 20, ...(cursor && { cursor }) });

  const search = async (q: string): Promise<SearchHit[]> => {
    const mine = ++generation;
    setMore("idle");
    const page = await request(q);
    if (mine !== generation) return hits;
    setHits(page.hits);
    setNext(page.nextCursor ? { query: q, cursor: page.nextCursor } : null);
    // The chips count the query over all my rooms: kept while one room is picked.
    if (!room() || counts()?.query !== q) setCounts({ query: q, roomCounts: page.roomCounts, capped: page.countsCapped });
    return hits;
  };

  const loadMore = async () => {
    const at = next();
    if (!at || more() === "loading") return;
    const mine = generation;
    setMore("loading");
    try {
      const page = await request(at.query, at.cursor);
      if (mine !== generation) return;
      setHits([...hits, ...page.hits]);
      setNext(page.nextCursor ? { query: at.query, cursor: page.nextCursor } : null);
      setMore("idle");
    } catch (failure) {
      setMore(errorMessage(failure));
    }
  };

  const roomLabel = (roomId: string) => {
    const found = rooms.roomById(roomId);
    return found ? `${found.visibility === "direct" ? "" : "#"}${rooms.roomTitle(found)}` : rooms.titleById(roomId);
  };
  const total = () => counts()?.roomCounts.reduce((sum, c) => sum + c.count, 0) ?? 0;

  return (
    <div class="search-view" data-testid="search-view">
      <header class="room-head">
        <button type="button" class="icon-button only-narrow" aria-label="Open rooms" onClick={() => layout.openSidebar()}>
          <Icon name="menu" />
        </button>
        <div class="room-title">
          <h1>Search</h1>
        </div>
      </header>
      <div class="search-body">
        <Show when={box()} keyed>
        <SearchList<SearchHit>
          label="Search messages"
          placeholder='Search messages: words, "phrases", from:@user, in:#room…'
          initial={queryParam()}
          options={() => [order(), room()]}
          onQuery={(q) => {
            reported = q;
            if (q !== queryParam()) setParams({ q: q || undefined }, { replace: true });
          }}
          search={search}
          prompt="Type words to search the messages of your rooms."
          nothing="No messages found."
          error={null}
          class="search-results"
          before={
            <>
              <div class="search-options">
                <div role="group" aria-labelledby={orderId} class="segmented">
                  <span id={orderId} class="muted small">
                    Sort:
                  </span>
                  <button type="button" class="chip-toggle" aria-pressed={order() === "relevance"} onClick={() => setParams({ order: undefined })}>
                    Most relevant
                  </button>
                  <button type="button" class="chip-toggle" aria-pressed={order() === "newest"} data-testid="search-newest" onClick={() => setParams({ order: "newest" })}>
                    Newest
                  </button>
                </div>
                <SearchSyntaxHelp />
              </div>
              <Show when={(counts()?.roomCounts.length ?? 0) > 0}>
                <div role="group" aria-label="Filter by room" class="search-chips" data-testid="search-rooms">
                  <button type="button" class="chip-toggle" aria-pressed={!room()} onClick={() => setParams({ room: undefined })}>
                    All rooms <span class="muted">({total()}{counts()?.capped ? "+" : ""})</span>
                  </button>
                  <For each={counts()?.roomCounts ?? []}>
                    {(c) => (
                      <button
                        type="button"
                        class="chip-toggle"
                        aria-pressed={room() === c.roomId}
                        data-testid="search-room-chip"
                        onClick={() => setParams({ room: room() === c.roomId ? undefined : c.roomId })}
                      >
                        <bdi>{roomLabel(c.roomId)}</bdi> <span class="muted">({c.count})</span>
                      </button>
                    )}
                  </For>
                </div>
              </Show>
            </>
          }
          after={
            <Show when={next() || more() !== "idle"}>
              <div class="search-more">
                <Show when={more() !== "idle" && more() !== "loading"}>
                  <p class="form-error">{more()}</p>
                </Show>
                <Show when={next()}>
                  <button type="button" class="button" data-testid="search-more" disabled={more() === "loading"} onClick={() => void loadMore()}>
                    {more() === "loading" ? "Loading…" : "Load more"}
                  </button>
                </Show>
              </div>
            </Show>
          }
        >
          {(hit) => (
            <li>
              <button type="button" class="result result-button search-hit" data-testid="search-hit" onClick={() => navigate(hitHref(hit.message))}>
                <span class="search-hit-head">
                  <bdi class="search-hit-room">{roomLabel(hit.message.roomId)}</bdi>
                  <bdi class="member-name">{people.nameOf(hit.message.senderId)}</bdi>
                  <Show when={hit.message.threadRootId}>
                    <span class="muted small">in a thread</span>
                  </Show>
                  <time class="muted small" datetime={hit.message.createdAt} title={fullTimeOf(hit.message.createdAt)}>
                    {relativeTime(hit.message.createdAt)}
                  </time>
                </span>
                <span class="search-snippet" dir="auto" data-testid="search-snippet">
                  {hit.snippetStartsInside ? "… " : ""}
                  <For each={hit.snippet}>{(part) => (part.highlighted ? <mark>{part.text}</mark> : part.text)}</For>
                  {hit.snippetEndsInside ? " …" : ""}
                </span>
              </button>
            </li>
          )}
        </SearchList>
        </Show>
      </div>
    </div>
  );
}
