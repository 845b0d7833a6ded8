// My rooms and direct conversations, most recent activity first, with live
// unread counts; the entry points to create, browse and start conversations.
import { A, useNavigate } from "@solidjs/router";
import { createMemo, createSignal, For, Match, onCleanup, onMount, Show, Switch } from "solid-js";
import { usePeople } from "../lib/store/people";
import { useRooms } from "../lib/store/rooms";
import { useConnection } from "../lib/store/connection";
import { useNotifications } from "../lib/store/notifications";
import type { RoomSummary } from "../lib/types";
import { Avatar } from "./Avatar";
import { ConnectionBadge } from "./ConnectionBadge";
import { BrowseRoomsDialog, CreateRoomDialog, NewDirectDialog } from "./RoomDialogs";
import { ProfileDialog } from "./ProfileDialog";
import { MentionsView } from "./MentionsView";
import { Icon } from "./Icon";
import { ThemeToggle } from "./ThemeToggle";
import { QuickSwitcher } from "./QuickSwitcher";
import { ThreadsLink } from "../routes/ThreadsView";
import "./Sidebar.css";

type Open = "create" | "browse" | "direct" | "profile" | "mentions" | "switcher" | null;

/** Ctrl+K (Cmd+K on a Mac) opens the quick switcher. */
export const isSwitcherKey = (event: KeyboardEvent) => (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey && event.key.toLowerCase() === "k";

export function Sidebar(props: { onNavigate: () => void }) {
  const people = usePeople();
  const rooms = useRooms();
  const connection = useConnection();
  const notifications = useNotifications();
  const [open, setOpen] = createSignal<Open>(null);
  const navigate = useNavigate();
  // --- search (issue 17): Ctrl+K / Cmd+K anywhere (not over another dialog) opens the quick switcher ---
  onMount(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!isSwitcherKey(event)) return;
      event.preventDefault();
      if (open() === "switcher" || !document.querySelector("dialog[open]")) setOpen("switcher");
    };
    document.addEventListener("keydown", onKey);
    onCleanup(() => document.removeEventListener("keydown", onKey));
  });
  const [searchText, setSearchText] = createSignal("");
  const searchMessages = (event: SubmitEvent) => {
    event.preventDefault();
    const q = searchText().trim();
    if (!q) return;
    props.onNavigate();
    navigate(`/search?q=${encodeURIComponent(q)}`);
  };
  const groups = createMemo(() => {
    const named: RoomSummary[] = [];
    const directs: RoomSummary[] = [];
    for (const room of rooms.rooms()) (room.visibility === "direct" ? directs : named).push(room);
    return { rooms: named, directs };
  });

  const RoomLink = (p: { room: RoomSummary }) => {
    const title = () => rooms.roomTitle(p.room);
    const peer = () => rooms.peerOf(p.room);
    // --- notifications (issue 18): the badge follows the room's level (ALL: unread, MENTIONS: mentions, NOTHING or muted: quiet) ---
    const badge = () => notifications.badgeOf(p.room);
    return (
      <li>
        <A
          href={`/rooms/${p.room.id}`}
          class="room-link"
          classList={{ unread: badge().unread, muted: badge().muted }}
          onClick={() => props.onNavigate()}
          data-room-name={title()}
          data-badge={badge().kind}
        >
          <Switch>
            <Match when={peer()}>
              {(id) => (
                <Avatar userId={id()} name={title()} url={people.users[id()]?.avatarUrl} size={22} presence={people.presence[id()] ?? "offline"} />
              )}
            </Match>
            <Match when={rooms.isGroup(p.room)}>
              <Icon name="users" size={16} class="room-icon" />
            </Match>
            <Match when={p.room.visibility === "private"}>
              <Icon name="lock" size={16} class="room-icon" />
            </Match>
            <Match when={true}>
              <Icon name="hash" size={16} class="room-icon" />
            </Match>
          </Switch>
          <span class="room-name" dir="auto">{title()}</span>
          <Show when={badge().muted}>
            <span class="muted-icon" data-testid="muted-icon" title="Muted">
              <Icon name="bellOff" size={14} />
              <span class="sr-only">, muted</span>
            </span>
          </Show>
          {/* --- mentions (issue 16) --- */}
          <Show when={badge().kind !== "quiet" && p.room.mentionCount > 0}>
            <span class="badge mention-badge" data-testid="mention-badge" title={`${p.room.mentionCount} unread mentions`}>
              <span aria-hidden="true">@{p.room.mentionCount > 99 ? "99+" : p.room.mentionCount}</span>
              <span class="sr-only">, {p.room.mentionCount} unread mentions</span>
            </span>
          </Show>
          {/* A room that notifies for mentions only keeps its unread count, quietly (grey): only what notifies is red. */}
          <Show when={badge().kind !== "quiet" && p.room.unreadCount > 0}>
            <span class="badge" classList={{ "quiet-count": badge().kind !== "unread" }} data-testid="unread-badge">
              <span aria-hidden="true">{p.room.unreadCount > 99 ? "99+" : p.room.unreadCount}</span>
              <span class="sr-only">, {p.room.unreadCount} unread</span>
            </span>
          </Show>
        </A>
      </li>
    );
  };

  return (
    <nav class="sidebar" aria-label="Rooms and conversations">
      <header class="sidebar-head">
        <A href="/" class="brand" onClick={() => props.onNavigate()}>
          <span class="brand-mark small" aria-hidden="true">
            P
          </span>
          Parley
        </A>
        <ConnectionBadge />
        <ThemeToggle />
      </header>

      {/* --- search (issue 17) --- */}
      <form class="sidebar-search" role="search" onSubmit={searchMessages}>
        <label class="field search-field">
          <span class="sr-only">Search messages</span>
          <Icon name="search" size={16} />
          <input
            type="search"
            placeholder="Search messages"
            data-testid="sidebar-search"
            value={searchText()}
            onInput={(e) => setSearchText(e.currentTarget.value)}
            enterkeyhint="search"
          />
          <button
            type="button"
            class="icon-button"
            aria-label="Jump to a room or person"
            aria-keyshortcuts="Control+K Meta+K"
            title="Jump to a room or person (Ctrl+K, ⌘K)"
            data-testid="open-switcher"
            onClick={() => setOpen("switcher")}
          >
            <kbd aria-hidden="true">{/Mac|iPhone|iPad/.test(navigator.platform) ? "⌘K" : "Ctrl+K"}</kbd>
          </button>
        </label>
      </form>

      <div class="sidebar-scroll">
        {/* --- threads (issue 16) --- */}
        <ul class="room-list sidebar-views">
          <li>
            <ThreadsLink onNavigate={() => props.onNavigate()} />
          </li>
        </ul>
        <section class="sidebar-section" aria-labelledby="rooms-heading">
          <div class="section-head">
            <h2 id="rooms-heading">Rooms</h2>
            <button type="button" class="icon-button" aria-label="Mentions" title="Mentions" data-testid="open-mentions" onClick={() => setOpen("mentions")}>
              <Icon name="at" size={16} />
            </button>
            <button type="button" class="icon-button" aria-label="Browse public rooms" title="Browse public rooms" onClick={() => setOpen("browse")}>
              <Icon name="search" size={16} />
            </button>
            <button type="button" class="icon-button" aria-label="Create a room" title="Create a room" onClick={() => setOpen("create")}>
              <Icon name="plus" size={16} />
            </button>
          </div>
          <Show
            when={groups().rooms.length > 0}
            fallback={
              <p class="sidebar-empty">
                <Show when={rooms.loaded()} fallback="Loading…">
                  No rooms yet. <button type="button" class="link-button" onClick={() => setOpen("browse")}>Browse</button> or{" "}
                  <button type="button" class="link-button" onClick={() => setOpen("create")}>create one</button>.
                </Show>
              </p>
            }
          >
            <ul class="room-list">
              <For each={groups().rooms}>{(room) => <RoomLink room={room} />}</For>
            </ul>
          </Show>
        </section>

        <section class="sidebar-section" aria-labelledby="directs-heading">
          <div class="section-head">
            <h2 id="directs-heading">Direct messages</h2>
            <button type="button" class="icon-button" aria-label="New direct message" title="New direct message" onClick={() => setOpen("direct")}>
              <Icon name="plus" size={16} />
            </button>
          </div>
          <Show when={groups().directs.length > 0} fallback={<p class="sidebar-empty">{rooms.loaded() ? "No conversations yet." : ""}</p>}>
            <ul class="room-list">
              <For each={groups().directs}>{(room) => <RoomLink room={room} />}</For>
            </ul>
          </Show>
        </section>
      </div>

      <footer class="sidebar-foot">
        <button type="button" class="me-button" onClick={() => setOpen("profile")} aria-label={`Your profile: ${people.me().displayName || people.me().username}`}>
          <Avatar userId={people.myId} name={people.me().displayName || people.me().username} url={people.me().avatarUrl} size={32} presence={connection.state() === "live" ? "online" : "offline"} />
          <span class="me-text">
            <span class="me-name" dir="auto">{people.me().displayName || people.me().username}</span>
            <span class="me-status" dir="auto">{people.me().statusText || `@${people.me().username}`}</span>
          </span>
        </button>
      </footer>

      <Switch>
        <Match when={open() === "create"}>
          <CreateRoomDialog onClose={() => setOpen(null)} onDone={() => props.onNavigate()} />
        </Match>
        <Match when={open() === "browse"}>
          <BrowseRoomsDialog onClose={() => setOpen(null)} onDone={() => props.onNavigate()} />
        </Match>
        <Match when={open() === "direct"}>
          <NewDirectDialog onClose={() => setOpen(null)} onDone={() => props.onNavigate()} />
        </Match>
        <Match when={open() === "mentions"}>
          <MentionsView onClose={() => setOpen(null)} onNavigate={() => props.onNavigate()} />
        </Match>
        <Match when={open() === "switcher"}>
          <QuickSwitcher onClose={() => setOpen(null)} onNavigate={() => props.onNavigate()} />
        </Match>
        <Match when={open() === "profile"}>
          <ProfileDialog onClose={() => setOpen(null)} />
        </Match>
      </Switch>
    </nav>
  );
}

