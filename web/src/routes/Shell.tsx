// The signed-in app: loads who I am, starts the chat state (rooms, live
// connection), and lays out the sidebar next to the current screen.
import { Navigate, useLocation, useNavigate, type RouteSectionProps } from "@solidjs/router";
import { createEffect, createResource, createSignal, ErrorBoundary, Match, onCleanup, Show, Switch, type JSX } from "solid-js";
import { api, errorMessage } from "../lib/api";
import { ChatProvider, createChat } from "../lib/chat";
import { LayoutContext } from "../lib/layout";
import { notify } from "../lib/notify";
import { endSession, isRejected, isSignedIn, SignedOutError } from "../lib/session";
import type { User } from "../lib/types";
import { Sidebar } from "../components/Sidebar";
import { NotificationBanner } from "../components/NotificationSettings";
import "./Shell.css";

export function Shell(props: RouteSectionProps) {
  const location = useLocation();
  return (
    <Show when={isSignedIn()} fallback={<Navigate href={location.pathname === "/" ? "/signin" : `/signin?next=${encodeURIComponent(location.pathname)}`} />}>
      <SignedIn>{props.children}</SignedIn>
    </Show>
  );
}

function SignedIn(props: { children?: JSX.Element }) {
  const [me, { refetch }] = createResource(async () => {
    try {
      return await api.users.me.query();
    } catch (error) {
      if (error instanceof SignedOutError || isRejected(error)) {
        endSession("Your session has ended. Please sign in again.");
      }
      throw error;
    }
  });
  return (
    <Switch>
      <Match when={me()}>{(user) => <ChatRoot me={user()}>{props.children}</ChatRoot>}</Match>
      <Match when={me.error}>
        <div class="splash" role="alert">
          <p>Could not reach Parley: {errorMessage(me.error)}</p>
          <button class="button primary" type="button" onClick={() => void refetch()}>
            Try again
          </button>
        </div>
      </Match>
      <Match when={me.loading}>
        <div class="splash" role="status">
          <span class="spinner" aria-hidden="true" /> Loading…
        </div>
      </Match>
    </Switch>
  );
}

function ChatRoot(props: { me: User; children?: JSX.Element }) {
  const navigate = useNavigate();
  const location = useLocation();
  const chat = createChat({
    me: props.me,
    notify,
    // A click on a notification opens its message in place.
    open: (path) => navigate(path),
    onSignedOut: (reason) => {
      endSession(reason);
      navigate("/signin", { replace: true });
    },
  });
  let stopped = false;
  const start = (attempt = 0): void => {
    chat.start().catch((error: unknown) => {
      if (stopped) return;
      if (attempt === 0) notify(`Cannot reach the live service: ${errorMessage(error)}. Retrying…`);
      setTimeout(() => start(attempt + 1), Math.min(10_000, 1000 * 2 ** attempt));
    });
  };
  start();
  onCleanup(() => {
    stopped = true;
    chat.close();
  });

  const [sidebarOpen, setSidebarOpen] = createSignal(false);
  // The search view (issue 17) is a screen of its own too (on phones, not hidden behind the room list).
  const atHome = () => !location.pathname.startsWith("/rooms/") && location.pathname !== "/search";

  // The drawer (narrow screens): focus goes into it, Escape closes it.
  createEffect(() => {
    if (!sidebarOpen()) return;
    queueMicrotask(() => document.querySelector<HTMLElement>(".sidebar a.room-link, .sidebar button")?.focus());
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape" && !document.querySelector("dialog[open]")) setSidebarOpen(false);
    };
    document.addEventListener("keydown", onKey);
    onCleanup(() => document.removeEventListener("keydown", onKey));
  });

  // The tab says where you are and how much is unread (what the sidebar's badges count).
  createEffect(() => {
    const unread = chat.rooms.rooms().reduce((sum, room) => sum + chat.notifications.badgeOf(room).count, 0);
    const roomId = /^\/rooms\/([^/]+)/.exec(location.pathname)?.[1];
    const room = roomId ? chat.rooms.roomById(roomId) : undefined;
    const where = room ? `${room.visibility === "direct" ? "" : "#"}${chat.rooms.roomTitle(room)} · ` : "";
    document.title = `${unread > 0 ? `(${unread}) ` : ""}${where}Parley`;
  });
  onCleanup(() => {
    document.title = "Parley";
  });
  return (
    <ChatProvider value={chat}>
      <LayoutContext.Provider value={{ sidebarOpen, openSidebar: () => setSidebarOpen(true), closeSidebar: () => setSidebarOpen(false) }}>
        <a class="skip-link" href="#main">
          Skip to content
        </a>
        <div class="app" classList={{ "sidebar-open": sidebarOpen(), "at-home": atHome() }}>
          <Sidebar onNavigate={() => setSidebarOpen(false)} />
          <div class="scrim" aria-hidden="true" onClick={() => setSidebarOpen(false)} />
          <main class="main" id="main" tabIndex={-1}>
            <Show when={chat.socketRefused()}>
              {(reason) => (
                <div class="socket-refused" role="alert" data-testid="socket-refused">
                  <strong>Parley cannot connect live: the socket tier refused this page's origin.</strong> It answered: “{reason()}”. Until
                  the operator sets it, new messages do not arrive and sending waits.
                </div>
              )}
            </Show>
            <NotificationBanner />
            <ErrorBoundary
              fallback={(error, reset) => (
                <div class="splash" role="alert">
                  <p>Something went wrong: {errorMessage(error)}</p>
                  <button class="button" type="button" onClick={reset}>
                    Try again
                  </button>
                </div>
              )}
            >
              {props.children}
            </ErrorBoundary>
          </main>
        </div>
      </LayoutContext.Provider>
    </ChatProvider>
  );
}
