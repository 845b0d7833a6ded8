// My rooms, most recent activity first, with their unread counts and read markers: loaded
// from the API, kept current by live events, and marked read while a room view reads them.
import { createSignal, type Accessor } from "solid-js";
import { Role, type Room } from "@parley/client";
import { api, errorMessage } from "../api";
import type { ChatMessage, RoomSummary } from "../types";
import type { Connection } from "./connection";
import { useChat } from "./context";
import type { People } from "./people";
import { mentionsMe } from "../mentions";

export type Rooms = ReturnType<typeof createRooms>;

function activityOf(room: RoomSummary): number {
  return Date.parse(room.lastActivityAt ?? room.createdAt) || 0;
}

export function sortRooms(rooms: RoomSummary[]): RoomSummary[] {
  return rooms.slice().sort((a, b) => activityOf(b) - activityOf(a) || a.name.localeCompare(b.name));
}

/** The fields of a room that its room lane changes (UpdateRoom), with the lane position that says how recent they are. */
const ROOM_LANE_FIELDS = ["name", "topic", "description", "archived", "membersCanPin", "membersCanMentionEveryone"] as const;

/**
 * Whether a copy of a room's settings (an answer, a live event, a list read) is at least as recent
 * as the one held: a room list that was read before a change already applied (an archive answered
 * while the list call was in flight) must not undo it. Copies that do not tell their position apply.
 */
export function isRoomLaneCurrent(held: Pick<RoomSummary, "lastChange"> | undefined, incoming: { lastChange?: number | bigint }): boolean {
  if (held?.lastChange === undefined || incoming.lastChange === undefined) return true;
  return Number(incoming.lastChange) >= held.lastChange;
}

/** A room list's copy of a room, with the settings of the held copy where that one is more recent. */
export function withNewerRoomLane(listed: RoomSummary, held: RoomSummary | undefined): RoomSummary {
  if (!held || isRoomLaneCurrent(held, listed)) return listed;
  const kept: Partial<RoomSummary> = { lastChange: held.lastChange };
  for (const field of ROOM_LANE_FIELDS) Object.assign(kept, { [field]: held[field] });
  return { ...listed, ...kept };
}

export function createRooms(deps: { people: People; connection: Connection; notify: (text: string) => void; isClosed: () => boolean }) {
  const { people, connection } = deps;
  const myId = people.myId;
  const [rooms, setRooms] = createSignal<RoomSummary[]>([]);
  const [loaded, setLoaded] = createSignal(false);
  const readers = new Map<string, Accessor<boolean>>();
  const markReadSent = new Map<string, number>();
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;

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

  /** Whether a room is a group conversation (a direct room of 3 to 8 people). */
  function isGroup(room: Pick<RoomSummary, "visibility" | "directMemberIds">): boolean {
    return room.visibility === "direct" && room.directMemberIds.length > 2;
  }

  /** The other person of a 1:1 conversation (none for a group). */
  function peerOf(room: Pick<RoomSummary, "visibility" | "directMemberIds">): string | undefined {
    if (room.visibility !== "direct" || isGroup(room)) return undefined;
    return room.directMemberIds.find((id) => id !== myId) ?? room.directMemberIds[0];
  }

  /** Everyone in a direct conversation but you. */
  function othersOf(room: Pick<RoomSummary, "visibility" | "directMemberIds">): string[] {
    return room.visibility === "direct" ? room.directMemberIds.filter((id) => id !== myId) : [];
  }

  /** A room's name; a conversation is named by its people (a group: the others, by name). */
  function roomTitle(room: Pick<RoomSummary, "visibility" | "directMemberIds" | "name">): string {
    if (isGroup(room)) {
      return othersOf(room)
        .map((id) => people.nameOf(id))
        .sort((a, b) => a.localeCompare(b))
        .join(", ");
    }
    const peer = peerOf(room);
    return peer ? people.nameOf(peer) : room.name;
  }

  function titleById(roomId: string): string {
    const room = roomById(roomId);
    return room ? roomTitle(room) : "a room";
  }

  const isReading = (roomId: string): boolean => readers.get(roomId)?.() ?? false;

  async function refresh(): Promise<void> {
    const { rooms: fresh } = await api.rooms.list.query();
    if (deps.isClosed()) return;
    const current = new Map(rooms().map((r) => [r.id, r]));
    const merged = fresh.map((room) => {
      const local = current.get(room.id);
      // Local knowledge that is ahead of the answer (a message, a read or a room change that raced it) wins.
      if (!local) return room;
      room = withNewerRoomLane(room, local);
      const lastReadSeq = Math.max(local.lastReadSeq, room.lastReadSeq);
      const caughtUp = isReading(room.id) || lastReadSeq >= room.lastSeq;
      return { ...room, lastReadSeq, unreadCount: caughtUp ? 0 : room.unreadCount, mentionCount: caughtUp ? 0 : room.mentionCount };
    });
    setRooms(sortRooms(merged));
    setLoaded(true);
    for (const room of merged) for (const id of othersOf(room)) people.ensureUser(id);
    connection.follow(merged);
  }

  /** Refreshes the room list soon (several events in a row make one call). */
  function refreshSoon(delay = 150): void {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => void refresh().catch(() => undefined), delay);
  }

  /** The first load: when it fails, the list shows (empty) and keeps trying, backing off up to 30 s. */
  async function loadFirst(): Promise<void> {
    await refresh().catch((failure) => {
      deps.notify(`Could not load your rooms: ${errorMessage(failure)}. Retrying…`);
      setLoaded(true);
      retry(2_000);
    });
  }

  function retry(delay: number): void {
    setTimeout(() => {
      if (deps.isClosed()) return;
      refresh().catch(() => retry(Math.min(delay * 2, 30_000)));
    }, delay);
  }

  function forget(id: string): void {
    setRooms((list) => list.filter((r) => r.id !== id));
  }

  /** The room view tells whether its newest message is on screen (so arrivals are read at once). */
  function setReader(roomId: string, reading: Accessor<boolean> | null): void {
    if (reading) readers.set(roomId, reading);
    else readers.delete(roomId);
  }

  function markRead(roomId: string, seq: number): void {
    const room = roomById(roomId);
    if (!room || seq <= room.lastReadSeq || (markReadSent.get(roomId) ?? 0) >= seq) return;
    markReadSent.set(roomId, seq);
    patchRoom(roomId, (r) => (seq >= r.lastSeq ? { lastReadSeq: seq, unreadCount: 0, mentionCount: 0 } : { lastReadSeq: Math.max(r.lastReadSeq, seq) }));
    const live = connection.live();
    const viaSocket = live ? live.markRead(roomId, BigInt(seq)).then(Number) : Promise.reject(new Error("offline"));
    viaSocket
      .catch(() => api.rooms.markRead.mutate({ id: roomId, seq }).then((r) => r.lastReadSeq))
      .catch(() => {
        // Try again the next time the room is read.
        markReadSent.delete(roomId);
      });
  }

  // ---------- what the socket says ----------

  /** A message of mine the server confirmed. */
  function sent(message: ChatMessage): void {
    patchRoom(message.roomId, (r) => ({ lastSeq: Math.max(r.lastSeq, message.seq), lastActivityAt: message.createdAt }));
  }

  /** A new message: the room moves up, and counts as unread unless it is mine or being read. */
  function received(message: ChatMessage): void {
    if (!roomById(message.roomId)) {
      refreshSoon();
      return;
    }
    const reading = isReading(message.roomId);
    patchRoom(message.roomId, (r) => ({
      lastSeq: Math.max(r.lastSeq, message.seq),
      lastActivityAt: message.createdAt,
      // A message the room list already counts (it was read after the message was sent) is not counted twice.
      unreadCount:
        message.senderId !== myId && message.seq > r.lastReadSeq && message.seq > r.lastSeq && !reading && !message.deleted
          ? r.unreadCount + 1
          : r.unreadCount,
      // The frame says whom it mentions: counted live; the server's count is the truth on reload.
      mentionCount:
        mentionsMe(message, myId) && message.seq > r.lastReadSeq && message.seq > r.lastSeq && !reading ? r.mentionCount + 1 : r.mentionCount,
    }));
  }

  /** An unread message that disappears no longer counts. */
  function deleted(message: ChatMessage): void {
    const room = roomById(message.roomId);
    if (room && message.senderId !== myId && message.seq > room.lastReadSeq && room.unreadCount > 0) {
      patchRoom(message.roomId, (r) => ({ unreadCount: Math.max(0, r.unreadCount - 1) }));
      // A tombstone no longer tells whom it mentioned: the server's mention count.
      if (room.mentionCount > 0) refreshSoon();
    }
  }

  /** The room changed (renamed, new topic or description, archived, pin policy; live or an answer to my own change): the header shows it at once. A room not listed yet (just created with me in it) brings the list. */
  function updated(room: Pick<Room, "id" | "name" | "topic" | "description" | "archived" | "membersCanPin" | "membersCanMentionEveryone"> & { lastChange?: number | bigint }): void {
    const held = roomById(room.id);
    if (!held) return refreshSoon();
    // An older copy (an answer overtaken by a later live change) changes nothing.
    if (!isRoomLaneCurrent(held, room)) return;
    patchRoom(room.id, () => ({
      name: room.name,
      topic: room.topic,
      description: room.description,
      archived: room.archived,
      membersCanPin: room.membersCanPin,
      membersCanMentionEveryone: room.membersCanMentionEveryone,
      ...(room.lastChange !== undefined && { lastChange: Number(room.lastChange) }),
    }));
  }

  /** My role in a room changed. */
  function roleChanged(roomId: string, role: Role): void {
    const name = role === Role.OWNER ? "owner" : role === Role.ADMIN ? "admin" : role === Role.MEMBER ? "member" : undefined;
    if (name) patchRoom(roomId, () => ({ role: name }));
  }

  /** I read the room on another device. */
  function readElsewhere(roomId: string, seq: number): void {
    const room = roomById(roomId);
    if (!room || seq <= room.lastReadSeq) return;
    if (seq >= room.lastSeq) patchRoom(roomId, () => ({ lastReadSeq: seq, unreadCount: 0, mentionCount: 0 }));
    else {
      patchRoom(roomId, () => ({ lastReadSeq: seq }));
      refreshSoon();
    }
  }

  return {
    rooms,
    loaded,
    roomById,
    peerOf,
    othersOf,
    isGroup,
    roomTitle,
    titleById,
    refresh,
    refreshSoon,
    loadFirst,
    forget,
    setReader,
    markRead,
    sent,
    received,
    deleted,
    updated,
    roleChanged,
    readElsewhere,
    close(): void {
      clearTimeout(refreshTimer);
    },
  };
}

export const useRooms = (): Rooms => useChat().rooms;
