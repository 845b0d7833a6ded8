// The signed-in start screen (on phones, the sidebar is the start screen).
import { For, Show } from "solid-js";
import { A } from "@solidjs/router";
import { useNotifications } from "../lib/store/notifications";
import { usePeople } from "../lib/store/people";
import { useRooms } from "../lib/store/rooms";
import { useLayout } from "../lib/layout";
import { Icon } from "../components/Icon";
import "./Home.css";

export function Home() {
  const people = usePeople();
  const rooms = useRooms();
  const layout = useLayout();
  const notifications = useNotifications();
  // The rooms whose unread messages count by their notification level (badgeFor): a room set to
  // nothing or muted stays out, as its badge stays quiet.
  const unread = () => rooms.rooms().filter((r) => r.unreadCount > 0 && notifications.badgeOf(r).kind !== "quiet");
  return (
    <div class="home">
      <button type="button" class="icon-button only-narrow home-menu" aria-label="Open rooms" onClick={() => layout.openSidebar()}>
        <Icon name="menu" />
      </button>
      <div class="home-card">
        <h1>Welcome, <bdi>{people.me().displayName || people.me().username}</bdi></h1>
        <Show
          when={rooms.rooms().length > 0}
          fallback={<p class="muted">You are not in any room yet. Create one, or browse the public rooms, from the sidebar.</p>}
        >
          <Show when={unread().length > 0} fallback={<p class="muted">You are all caught up. Pick a conversation on the left.</p>}>
            <p>New messages in:</p>
            <ul class="home-unread">
              <For each={unread()}>
                {(room) => (
                  <li>
                    <A href={`/rooms/${room.id}`}>
                      {room.visibility === "direct" ? "" : "#"}
                      {rooms.roomTitle(room)}
                    </A>{" "}
                    <span class="muted">({room.unreadCount})</span>
                  </li>
                )}
              </For>
            </ul>
          </Show>
        </Show>
      </div>
    </div>
  );
}

export function NotFound() {
  return (
    <div class="splash">
      <h1>Page not found</h1>
      <A class="button" href="/">
        Go to Parley
      </A>
    </div>
  );
}
