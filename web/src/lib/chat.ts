// The signed-in app's state, composed from one store per concern (lib/store/): people,
// rooms with their unread counts, timelines, typing, members, and the live connection
// whose events feed them. Everything live comes from the LiveClient; everything else
// from the typed tRPC API.
import { createSignal } from "solid-js";
import { createLiveClient, socketUrl } from "./live";
import { watchSocketRefusal } from "./socket-refusal";
import { createConnection } from "./store/connection";
import { createMembers } from "./store/members";
import { createNotifications } from "./store/notifications";
import { createPeople } from "./store/people";
import { createRooms } from "./store/rooms";
import { createTimelines } from "./store/timelines";
import { createTyping } from "./store/typing";
import { wireLiveEvents } from "./store/wiring";
import { lastChangeOf, type User } from "./types";

export { ChatProvider, useChat } from "./store/context";

export type Chat = ReturnType<typeof createChat>;

export function createChat(options: { me: User; onSignedOut: (reason: string) => void; notify: (text: string) => void; open?: (path: string) => void }) {
  let closed = false;
  const isClosed = () => closed;
  const myId = options.me.id;
  const connection = createConnection();
  const people = createPeople(options.me);
  const rooms = createRooms({ people, connection, notify: options.notify, isClosed });
  const timelines = createTimelines({
    myId,
    connection,
    notify: options.notify,
    onSent: (message) => rooms.sent(message),
    roomLastChange: (roomId) => lastChangeOf(rooms.roomById(roomId)),
  });
  const typing = createTyping({ myId, connection });
  const members = createMembers({ people });
  // --- notifications (issue 18) ---
  const notifications = createNotifications({ myId, open: (path) => options.open?.(path), isClosed });
  const stores = { connection, people, rooms, timelines, typing, members, notifications };
  // Why the socket tier refuses this page (its origin), while it does: shown instead of an endless "Reconnecting…".
  const [socketRefused, setSocketRefused] = createSignal<string | undefined>();
  let stopWatching = () => undefined as void;

  async function start(): Promise<void> {
    const url = await socketUrl();
    if (closed) return;
    const client = createLiveClient(url);
    connection.attach(client);
    stopWatching = watchSocketRefusal(client, url, setSocketRefused);
    wireLiveEvents(client, stores, { notify: options.notify, onSignedOut: options.onSignedOut, isClosed });
    notifications.start();
    // Rooms first: their last seqs are where the subscriptions start.
    await rooms.loadFirst();
    if (closed) return;
    client.connect();
  }

  function close(): void {
    closed = true;
    stopWatching();
    rooms.close();
    typing.close();
    members.close();
    notifications.close();
    connection.close();
    timelines.close();
  }

  return { myId, ...stores, socketRefused, start, close };
}
