// The Threads view (issue 16): the threads you follow across your rooms, newest reply first, with
// unread indicators; and the sidebar's link to it with the number of threads with unread replies.
// Both refetch when a thread reply or a root's summary arrives on any room's stream, or when a
// thread is read or (un)followed here.
import { A } from "@solidjs/router";
import { createEffect, createResource, For, on, Show } from "solid-js";
import { api, errorMessage } from "../lib/api";
import { relativeTime } from "../lib/format";
import { useLayout } from "../lib/layout";
import { usePeople } from "../lib/store/people";
import { useRooms } from "../lib/store/rooms";
import { threadActivity } from "../lib/threads";
import { Icon } from "../components/Icon";
import "../components/Thread.css";

/** The followed threads, refetched (at most every 300 ms) after thread activity. */
function followedThreads(unreadOnly: boolean, limit: number) {
  const [threads, { refetch }] = createResource(() => api.threads.list.query({ unreadOnly, limit }));
  let timer: ReturnType<typeof setTimeout> | undefined;
  createEffect(
    on(
      threadActivity,
      () => {
        clearTimeout(timer);
        timer = setTimeout(() => void refetch(), 300);
      },
      { defer: true },
    ),
  );
  return threads;
}

export function ThreadsLink(props: { onNavigate(): void }) {
  const threads = followedThreads(true, 1);
  const unread = () => threads.latest?.unreadThreadCount ?? 0;
  return (
    <A href="/threads" class="room-link threads-link" activeClass="active" onClick={() => props.onNavigate()} data-testid="threads-link">
      <Icon name="message" size={16} class="room-icon" />
      <span class="room-name" dir="auto">Threads</span>
      <Show when={unread() > 0}>
        <span class="badge" data-testid="threads-badge">
          <span aria-hidden="true">{unread() > 99 ? "99+" : unread()}</span>
          <span class="sr-only">, {unread()} threads with unread replies</span>
        </span>
      </Show>
    </A>
  );
}

export function ThreadsView() {
  const people = usePeople();
  const rooms = useRooms();
  const layout = useLayout();
  const threads = followedThreads(false, 100);
  const roomName = (roomId: string) => {
    const room = rooms.rooms().find((r) => r.id === roomId);
    return room ? `${room.visibility === "direct" ? "" : "#"}${rooms.roomTitle(room)}` : "";
  };
  return (
    <div class="threads-view">
      <header class="room-head">
        <button type="button" class="icon-button only-narrow" aria-label="Open rooms" onClick={() => layout.openSidebar()}>
          <Icon name="menu" />
        </button>
        <div class="room-title">
          <h1>Threads</h1>
        </div>
      </header>
      <Show when={!threads.error} fallback={<p class="form-error thread-error">{errorMessage(threads.error)}</p>}>
        <Show
          when={(threads.latest?.threads.length ?? 1) > 0}
          fallback={<p class="muted thread-error">No threads yet: the threads you start, reply in or follow show here.</p>}
        >
          <ul class="threads-list">
            <For each={threads.latest?.threads ?? []}>
              {(thread) => (
                <li>
                  <A
                    href={`/rooms/${thread.root.roomId}?thread=${thread.root.id}`}
                    class="thread-item"
                    classList={{ unread: thread.unreadCount > 0 }}
                    data-testid="thread-item"
                    data-unread={thread.unreadCount > 0 ? "true" : "false"}
                  >
                    <span class="thread-item-head">
                      <span class="room-name" dir="auto">
                        {roomName(thread.root.roomId)}
                      </span>
                      <Show when={thread.root.thread?.lastReplyAt}>
                        <span class="muted small">{relativeTime(thread.root.thread!.lastReplyAt!)}</span>
                      </Show>
                      <Show when={thread.unreadCount > 0}>
                        <span class="badge" data-testid="thread-unread">
                          {thread.unreadCount} new
                        </span>
                      </Show>
                    </span>
                    <span class="thread-item-body" dir="auto">
                      <bdi>{people.nameOf(thread.root.senderId)}</bdi>: {thread.root.deleted ? "This message was deleted." : thread.root.body}
                    </span>
                    <span class="muted small">
                      {thread.root.thread?.replyCount ?? 0} {thread.root.thread?.replyCount === 1 ? "reply" : "replies"}
                    </span>
                  </A>
                </li>
              )}
            </For>
          </ul>
        </Show>
      </Show>
    </div>
  );
}
