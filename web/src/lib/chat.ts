// The signed-in app's state: my rooms with live unread counts, people and their
// presence, who is typing, and one timeline per opened room. Everything live
// comes from the LiveClient; everything else from the typed tRPC API.
import { createContext, createMemo, createRoot, createSignal, useContext, type Accessor } from "solid-js";
import { createStore } from "solid-js/store";
import { newClientMsgId, type LiveClient } from "@parley/client";
import { api, errorMessage } from "./api";
import { createLiveClient, presenceName, socketUrl, toChatMessage, type ConnectionState, type Presence } from "./live";
import { applyChange, mergeMessages, timelineItems, unconfirmed, type PendingSend, type TimelineItem } from "./timeline";
import type { ChatMessage, Member, RoomSummary, User } from "./types";

const PAGE = 50;
const TYPING_SHOWN_MS = 6_000;

export interface Timeline {
  roomId: string;
  messages: Accessor<ChatMessage[]>;
  pending: Accessor<PendingSend[]>;
  items: Accessor<TimelineItem[]>;
  hasOlder: Accessor<boolean>;
  loadingOlder: Accessor<boolean>;
  status: Accessor<"loading" | "ready" | "error">;
  error: Accessor<string | null>;
  loadLatest(): Promise<void>;
  /** Loads the page before the oldest message; `keep` runs right around the change (to hold the scroll position). */
  loadOlder(keep?: { before(): void; after(): void }): Promise<number>;
  send(body: string): void;
  retry(clientMsgId: string): void;
  discard(clientMsgId: string): void;
}

export type Chat = ReturnType<typeof createChat>;

interface TimelineEntry {
  timeline: Timeline;
  /** Confirmed messages from the socket, an ack or the API. */
  receive(messages: ChatMessage[]): void;
  /** An edit or a deletion. */
  change(message: ChatMessage): void;
  dispose(): void;
}

const ChatContext = createContext<Chat>();
export const ChatProvider = ChatContext.Provider;
export function useChat(): Chat {
  const chat = useContext(ChatContext);
  if (!chat) throw new Error("useChat outside ChatProvider");
  return chat;
}

function activityOf(room: RoomSummary): number {
  return Date.parse(room.lastActivityAt ?? room.createdAt) || 0;
}

export function sortRooms(rooms: RoomSummary[]): RoomSummary[] {
  return rooms.slice().sort((a, b) => activityOf(b) - activityOf(a) || a.name.localeCompare(b.name));
}

export function createChat(options: { me: User; onSignedOut: (reason: string) => void; notify: (text: string) => void }) {
  const [me, setMe] = createSignal<User>(options.me);
  const myId = options.me.id;
  const [rooms, setRooms] = createSignal<RoomSummary[]>([]);
  const [roomsLoaded, setRoomsLoaded] = createSignal(false);
  const [users, setUsers] = createStore<Record<string, User>>({ [myId]: options.me });
  const [presence, setPresence] = createStore<Record<string, Presence>>({});
  const [typing, setTyping] = createStore<Record<string, Record<string, number>>>({});
  const [now, setNow] = createSignal(Date.now());
  const [connection, setConnection] = createSignal<ConnectionState>("connecting");
  const [memberVersion, setMemberVersion] = createStore<Record<string, number>>({});
  const timelines = new Map<string, TimelineEntry>();
  const subscribed = new Set<string>();
  const requestedUsers = new Set<string>();
  const readers = new Map<string, Accessor<boolean>>();
  const markReadSent = new Map<string, number>();
  let live: LiveClient | undefined;
  let closed = false;
  let everLive = false;
  let typingTimer: ReturnType<typeof setInterval> | undefined;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;

  // ---------- people ----------

  function ensureUser(id: string): void {
    if (!id || users[id] || requestedUsers.has(id)) return;
    requestedUsers.add(id);
    api.users.get.query({ id }).then(
      (user) => setUsers(id, user),
      () => requestedUsers.delete(id),
    );
  }

  function rememberUsers(list: readonly User[]): void {
    for (const user of list) setUsers(user.id, user);
  }

  function nameOf(id: string): string {
    const user = users[id];
    if (!user) {
      ensureUser(id);
      return "…";
    }
    return user.displayName || user.username;
  }

  // ---------- rooms ----------

  function roomById(id: string): RoomSummary | undefined {
    return rooms().find((r) => r.id === id);
  }

  function patchRoom(id: string, patch: (room: RoomSummary) => Partial<RoomSummary>): void {
    setRooms((list) => {
      let changed = false;
      const next = list.map((room) => {
        if (room.id !== id) return room;
        changed = true;
        return { ...room, ...patch(room) };
      });
      return changed ? sortRooms(next) : list;
    });
  }

  /** The other person of a direct conversation. */
  function peerOf(room: Pick<RoomSummary, "visibility" | "directMemberIds">): string | undefined {
    if (room.visibility !== "direct") return undefined;
    return room.directMemberIds.find((id) => id !== myId) ?? room.directMemberIds[0];
  }

  function roomTitle(room: Pick<RoomSummary, "visibility" | "directMemberIds" | "name">): string {
    const peer = peerOf(room);
    return peer ? nameOf(peer) : room.name;
  }

  async function refreshRooms(): Promise<void> {
    const { rooms: fresh } = await api.rooms.list.query();
    if (closed) return;
    const current = new Map(rooms().map((r) => [r.id, r]));
    const merged = fresh.map((room) => {
      const local = current.get(room.id);
      // Local knowledge that is ahead of the answer (a message or a read that raced it) wins.
      if (!local) return room;
      const lastReadSeq = Math.max(local.lastReadSeq, room.lastReadSeq);
      const reading = readers.get(room.id)?.() ?? false;
      return { ...room, lastReadSeq, unreadCount: reading || lastReadSeq >= room.lastSeq ? 0 : room.unreadCount };
    });
    setRooms(sortRooms(merged));
    setRoomsLoaded(true);
    const ids = new Set(merged.map((r) => r.id));
    for (const room of merged) {
      const peer = peerOf(room);
      if (peer) ensureUser(peer);
      if (!subscribed.has(room.id)) {
        subscribed.add(room.id);
        live?.subscribe(room.id, BigInt(room.lastSeq));
      }
    }
    for (const id of [...subscribed]) {
      if (!ids.has(id)) {
        subscribed.delete(id);
        live?.unsubscribe(id);
      }
    }
  }

  /** Refreshes the room list soon (several events in a row make one call). */
  function refreshRoomsSoon(delay = 150): void {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => void refreshRooms().catch(() => undefined), delay);
  }

  function forgetRoom(id: string): void {
    setRooms((list) => list.filter((r) => r.id !== id));
    subscribed.delete(id);
    const entry = timelines.get(id);
    entry?.dispose();
    timelines.delete(id);
  }

  /** Starts receiving a room we just joined, from the last seq of the history we have. */
  function ensureSubscribed(roomId: string, afterSeq: number): void {
    if (subscribed.has(roomId)) return;
    subscribed.add(roomId);
    live?.subscribe(roomId, BigInt(afterSeq));
  }

  // ---------- reading ----------

  /** The room view tells whether its newest message is on screen (so arrivals are read at once). */
  function setReader(roomId: string, reading: Accessor<boolean> | null): void {
    if (reading) readers.set(roomId, reading);
    else readers.delete(roomId);
  }

  function markRead(roomId: string, seq: number): void {
    const room = roomById(roomId);
    if (!room || seq <= room.lastReadSeq || (markReadSent.get(roomId) ?? 0) >= seq) return;
    markReadSent.set(roomId, seq);
    patchRoom(roomId, (r) => ({ lastReadSeq: Math.max(r.lastReadSeq, seq), unreadCount: seq >= r.lastSeq ? 0 : r.unreadCount }));
    const viaSocket = live && connection() === "live" ? live.markRead(roomId, BigInt(seq)).then(Number) : Promise.reject(new Error("offline"));
    viaSocket
      .catch(() => api.rooms.markRead.mutate({ id: roomId, seq }).then((r) => r.lastReadSeq))
      .catch(() => {
        // Try again the next time the room is read.
        markReadSent.delete(roomId);
      });
  }

  // ---------- timelines ----------

  function timeline(roomId: string): Timeline {
    const existing = timelines.get(roomId);
    if (existing) return existing.timeline;
    const entry = createRoot((dispose) => ({ ...makeTimeline(roomId), dispose }));
    timelines.set(roomId, entry);
    return entry.timeline;
  }

  function makeTimeline(roomId: string): Omit<TimelineEntry, "dispose"> {
    const [messages, setMessages] = createSignal<ChatMessage[]>([]);
    const [pending, setPending] = createSignal<PendingSend[]>([]);
    const [hasOlder, setHasOlder] = createSignal(false);
    const [loadingOlder, setLoadingOlder] = createSignal(false);
    const [status, setStatus] = createSignal<"loading" | "ready" | "error">("loading");
    const [error, setError] = createSignal<string | null>(null);
    const items = createMemo(() => timelineItems(messages(), pending(), myId));

    const receive = (incoming: ChatMessage[]) => {
      setMessages((current) => mergeMessages(current, incoming, roomId));
      setPending((current) => unconfirmed(current, incoming, myId));
    };

    const dispatch = (send: PendingSend) => {
      const failed = (failure: unknown) =>
        setPending((list) =>
          list.map((p) => (p.clientMsgId === send.clientMsgId ? { ...p, status: "failed", error: errorMessage(failure) } : p)),
        );
      if (!live) return failed(new Error("not connected yet"));
      live.send(roomId, send.body, { clientMsgId: send.clientMsgId }).then(
        (message) => {
          const confirmed = toChatMessage(message);
          receive([confirmed]);
          patchRoom(roomId, (r) => ({
            lastSeq: Math.max(r.lastSeq, confirmed.seq),
            lastActivityAt: confirmed.createdAt,
          }));
        },
        failed,
      );
    };

    const self: Timeline = {
      roomId,
      messages,
      pending,
      items,
      hasOlder,
      loadingOlder,
      status,
      error,
      async loadLatest() {
        try {
          const page = await api.messages.list.query({ roomId, limit: PAGE });
          const newest = page.messages[page.messages.length - 1]?.seq ?? 0;
          setMessages((current) => {
            if (status() !== "ready") {
              // First load: the page, plus whatever arrived live while it was on its way.
              return mergeMessages(page.messages, current.filter((m) => m.seq > newest), roomId);
            }
            // A refresh (after a reconnect): picks up edits and deletions that happened meanwhile.
            return mergeMessages(current, page.messages, roomId);
          });
          setPending((current) => unconfirmed(current, page.messages, myId));
          if (status() !== "ready") setHasOlder(page.hasOlder);
          setStatus("ready");
          setError(null);
          ensureSubscribed(roomId, page.lastSeq);
        } catch (failure) {
          if (status() !== "ready") {
            setStatus("error");
            setError(errorMessage(failure));
          }
        }
      },
      async loadOlder(keep) {
        if (!hasOlder() || loadingOlder() || status() !== "ready") return 0;
        const oldest = messages()[0]?.seq;
        if (oldest === undefined) return 0;
        setLoadingOlder(true);
        try {
          const page = await api.messages.list.query({ roomId, before: oldest, limit: PAGE });
          keep?.before();
          setMessages((current) => mergeMessages(current, page.messages, roomId));
          keep?.after();
          setHasOlder(page.hasOlder);
          return page.messages.length;
        } catch (failure) {
          options.notify(`Could not load older messages: ${errorMessage(failure)}`);
          return 0;
        } finally {
          setLoadingOlder(false);
        }
      },
      send(body: string) {
        const send: PendingSend = {
          clientMsgId: newClientMsgId(),
          roomId,
          senderId: myId,
          body,
          createdAt: new Date().toISOString(),
          status: "sending",
        };
        setPending((list) => [...list, send]);
        dispatch(send);
      },
      retry(clientMsgId: string) {
        const send = pending().find((p) => p.clientMsgId === clientMsgId);
        if (!send) return;
        const again: PendingSend = { ...send, status: "sending", error: undefined };
        setPending((list) => list.map((p) => (p.clientMsgId === clientMsgId ? again : p)));
        // The same clientMsgId: if the first try did reach the server, this returns the original.
        dispatch(again);
      },
      discard(clientMsgId: string) {
        setPending((list) => list.filter((p) => p.clientMsgId !== clientMsgId));
      },
    };
    const change = (message: ChatMessage) => setMessages((current) => applyChange(current, message));
    return { timeline: self, receive, change };
  }

  function timelineInternals(roomId: string): TimelineEntry | undefined {
    return timelines.get(roomId);
  }

  async function editMessage(message: ChatMessage, body: string): Promise<void> {
    const edited = await api.messages.edit.mutate({ id: message.id, body });
    timelineInternals(message.roomId)?.change(edited);
  }

  async function deleteMessage(message: ChatMessage): Promise<void> {
    await api.messages.delete.mutate({ id: message.id });
    timelineInternals(message.roomId)?.change({ ...message, body: "", deleted: true });
  }

  // ---------- typing ----------

  function typingIn(roomId: string): string[] {
    const t = now();
    const entries = typing[roomId];
    if (!entries) return [];
    return Object.entries(entries)
      .filter(([userId, until]) => until > t && userId !== myId)
      .map(([userId]) => userId);
  }

  function sawTyping(roomId: string, userId: string): void {
    if (userId === myId) return;
    setTyping(roomId, (entries) => ({ ...(entries ?? {}), [userId]: Date.now() + TYPING_SHOWN_MS }));
    setNow(Date.now());
    typingTimer ??= setInterval(() => {
      setNow(Date.now());
      const active = Object.values(typing).some((entries) => Object.values(entries).some((until) => until > Date.now()));
      if (!active) {
        clearInterval(typingTimer);
        typingTimer = undefined;
      }
    }, 1000);
  }

  function stoppedTyping(roomId: string, userId: string): void {
    if (typing[roomId]?.[userId]) setTyping(roomId, userId, 0);
  }

  /** When this device last told each room that I am typing (the server relays one every 2 s at most). */
  const typingSent = new Map<string, number>();
  function iAmTyping(roomId: string): void {
    if (Date.now() - (typingSent.get(roomId) ?? 0) < 2_500 || connection() !== "live") return;
    typingSent.set(roomId, Date.now());
    live?.typing(roomId);
  }

  // ---------- members ----------

  async function loadMembers(roomId: string): Promise<Member[]> {
    const { members } = await api.rooms.members.query({ id: roomId, limit: 200 });
    rememberUsers(members.flatMap((m) => (m.user ? [m.user] : [])));
    return members;
  }

  // ---------- the live connection ----------

  function wire(client: LiveClient): void {
    client.on("state", (state) => {
      const wasLive = everLive;
      setConnection(state);
      if (state !== "live") return;
      everLive = true;
      setPresence(myId, "online");
      if (!wasLive) return;
      // Back after a break: the server replays new messages by itself; counts, rooms
      // and edits or deletions of messages we already show are read again.
      refreshRoomsSoon(0);
      for (const { timeline: t } of timelines.values()) if (t.status() === "ready") void t.loadLatest();
    });
    client.on("message", (raw) => {
      const message = toChatMessage(raw);
      timelineInternals(message.roomId)?.receive([message]);
      stoppedTyping(message.roomId, message.senderId);
      ensureUser(message.senderId);
      const room = roomById(message.roomId);
      if (!room) {
        refreshRoomsSoon();
        return;
      }
      const reading = readers.get(message.roomId)?.() ?? false;
      patchRoom(message.roomId, (r) => ({
        lastSeq: Math.max(r.lastSeq, message.seq),
        lastActivityAt: message.createdAt,
        unreadCount:
          message.senderId !== myId && message.seq > r.lastReadSeq && !reading && !message.deleted ? r.unreadCount + 1 : r.unreadCount,
      }));
    });
    client.on("edited", (raw) => timelineInternals(raw.roomId)?.change(toChatMessage(raw)));
    client.on("deleted", (raw) => {
      const message = toChatMessage(raw);
      timelineInternals(message.roomId)?.change(message);
      // An unread message that disappears no longer counts.
      const room = roomById(message.roomId);
      if (room && message.senderId !== myId && message.seq > room.lastReadSeq && room.unreadCount > 0) {
        patchRoom(message.roomId, (r) => ({ unreadCount: Math.max(0, r.unreadCount - 1) }));
      }
    });
    client.on("typing", ({ roomId, userId }) => sawTyping(roomId, userId));
    client.on("presence", ({ userId, state }) => setPresence(userId, presenceName(state)));
    client.on("readMarker", ({ roomId, lastReadSeq }) => {
      const seq = Number(lastReadSeq);
      const room = roomById(roomId);
      if (!room || seq <= room.lastReadSeq) return;
      if (seq >= room.lastSeq) patchRoom(roomId, (r) => ({ lastReadSeq: seq, unreadCount: 0 }));
      else {
        patchRoom(roomId, () => ({ lastReadSeq: seq }));
        refreshRoomsSoon();
      }
    });
    client.on("member", ({ kind, roomId, userId }) => {
      if (userId === myId) {
        if (kind === "left" || kind === "kicked") {
          if (kind === "kicked") options.notify(`You were removed from ${roomTitleById(roomId)}.`);
          forgetRoom(roomId);
        } else refreshRoomsSoon();
        return;
      }
      setMemberVersion(roomId, (v) => (v ?? 0) + 1);
      if (kind === "joined" || kind === "left" || kind === "kicked") refreshRoomsSoon(500);
    });
    client.on("roomUpdated", () => refreshRoomsSoon());
    client.on("roomClosed", ({ roomId, code }) => {
      subscribed.delete(roomId);
      if (code === "NOT_FOUND" || code === "PERMISSION_DENIED") {
        forgetRoom(roomId);
        return;
      }
      // Refused for a passing reason: subscribe again soon, from what we have.
      setTimeout(() => {
        const room = roomById(roomId);
        if (closed || !room || subscribed.has(roomId)) return;
        const messages = timelines.get(roomId)?.timeline.messages();
        ensureSubscribed(roomId, messages?.[messages.length - 1]?.seq ?? room.lastSeq);
      }, 2_000);
    });
    client.on("signedOut", () => options.onSignedOut("You were signed out on every device."));
    client.on("error", (error) => console.warn("live:", error.code, error.message));
  }

  function retryRooms(delay: number): void {
    setTimeout(() => {
      if (closed) return;
      refreshRooms().catch(() => retryRooms(Math.min(delay * 2, 30_000)));
    }, delay);
  }

  function roomTitleById(roomId: string): string {
    const room = roomById(roomId);
    return room ? roomTitle(room) : "a room";
  }

  async function start(): Promise<void> {
    const url = await socketUrl();
    if (closed) return;
    live = createLiveClient(url);
    wire(live);
    // Rooms first: their last seqs are where the subscriptions start.
    await refreshRooms().catch((failure) => {
      options.notify(`Could not load your rooms: ${errorMessage(failure)}. Retrying…`);
      setRoomsLoaded(true);
      retryRooms(2_000);
    });
    if (closed) return;
    live.connect();
  }

  function close(): void {
    closed = true;
    clearTimeout(refreshTimer);
    clearInterval(typingTimer);
    live?.close();
    live = undefined;
    for (const { dispose } of timelines.values()) dispose();
    timelines.clear();
  }

  return {
    me,
    setMe: (user: User) => {
      setMe(user);
      setUsers(user.id, user);
    },
    myId,
    rooms,
    roomsLoaded,
    users,
    presence,
    connection,
    memberVersion,
    nameOf,
    ensureUser,
    rememberUsers,
    roomById,
    roomTitle,
    peerOf,
    refreshRooms,
    timeline,
    editMessage,
    deleteMessage,
    markRead,
    setReader,
    typingIn,
    iAmTyping,
    loadMembers,
    start,
    close,
  };
}
