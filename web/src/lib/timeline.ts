// A room's message list as pure functions (no framework): confirmed messages
// ordered and deduplicated by seq, optimistic sends merged with their
// confirmations by clientMsgId. Unchanged messages keep their identity so the
// view only re-renders what changed.
import type { ChatMessage, FileInfo } from "./types";

/** A message sent from this device that the server has not confirmed yet. */
export interface PendingSend {
  clientMsgId: string;
  roomId: string;
  senderId: string;
  body: string;
  createdAt: string;
  status: "sending" | "failed";
  error?: string;
  /** Files it attaches (issue 19), uploaded already: shown with it while it is on its way. */
  attachments?: FileInfo[];
}

export type TimelineItem = ChatMessage | PendingSend;

export function isPending(item: TimelineItem): item is PendingSend {
  return "status" in item;
}

/**
 * Of two versions of one message (same seq), the later one: by stream position when both tell it
 * (Message.change), else a deletion wins, then the newest edit.
 */
export function laterVersion(current: ChatMessage, incoming: ChatMessage): ChatMessage {
  if (current.change !== undefined && incoming.change !== undefined && current.change !== incoming.change) {
    return current.change > incoming.change ? current : incoming;
  }
  if (current.deleted !== incoming.deleted) return current.deleted ? current : incoming;
  const a = current.editedAt ? Date.parse(current.editedAt) : 0;
  const b = incoming.editedAt ? Date.parse(incoming.editedAt) : 0;
  if (a > b) return current;
  if (a === b && current.body === incoming.body && current.deleted === incoming.deleted) return current;
  return incoming;
}

/**
 * Merges incoming messages (history pages, live events, acks) into a list sorted
 * by seq: one entry per seq, the later version of each, identity kept when
 * nothing changed. Messages of other rooms are ignored.
 */
export function mergeMessages(current: readonly ChatMessage[], incoming: readonly ChatMessage[], roomId?: string): ChatMessage[] {
  if (incoming.length === 0) return current as ChatMessage[];
  const bySeq = new Map<number, ChatMessage>();
  for (const message of current) bySeq.set(message.seq, message);
  let changed = false;
  for (const message of incoming) {
    if (roomId !== undefined && message.roomId !== roomId) continue;
    if (!Number.isSafeInteger(message.seq) || message.seq < 1) continue;
    const existing = bySeq.get(message.seq);
    const next = existing ? laterVersion(existing, message) : message;
    if (next !== existing) {
      bySeq.set(message.seq, next);
      changed = true;
    }
  }
  if (!changed) return current as ChatMessage[];
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * Upserts messages into the part of a room's history a timeline holds: those older than `from`
 * (the oldest seq loaded, while older pages are not) are left for the page that will bring them,
 * so the list never gets an island with a gap before it.
 */
export function upsertLoaded(current: readonly ChatMessage[], incoming: readonly ChatMessage[], roomId: string, from?: number): ChatMessage[] {
  const kept = from === undefined ? incoming : incoming.filter((m) => m.seq >= from);
  return mergeMessages(current, kept, roomId);
}

/** Applies an edit or a deletion to a message already in the list (unknown ones are ignored). */
export function applyChange(current: readonly ChatMessage[], changed: ChatMessage): ChatMessage[] {
  const index = indexOfSeq(current, changed.seq);
  if (index < 0) return current as ChatMessage[];
  const existing = current[index]!;
  const next = laterVersion(existing, changed);
  if (next === existing) return current as ChatMessage[];
  const copy = current.slice();
  copy[index] = next;
  return copy;
}

/** Binary search in a list sorted by seq. */
export function indexOfSeq(messages: readonly ChatMessage[], seq: number): number {
  let lo = 0;
  let hi = messages.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const value = messages[mid]!.seq;
    if (value === seq) return mid;
    if (value < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Pending sends that no confirmed message of `senderId` answers yet. */
export function unconfirmed(pending: readonly PendingSend[], confirmed: readonly ChatMessage[], senderId: string): PendingSend[] {
  if (pending.length === 0) return pending as PendingSend[];
  const confirmedIds = new Set<string>();
  for (const message of confirmed) if (message.senderId === senderId && message.clientMsgId) confirmedIds.add(message.clientMsgId);
  const left = pending.filter((p) => !confirmedIds.has(p.clientMsgId));
  return left.length === pending.length ? (pending as PendingSend[]) : left;
}

/** What the list shows: confirmed messages by seq, then this device's unconfirmed sends in the order they were made. */
export function timelineItems(confirmed: readonly ChatMessage[], pending: readonly PendingSend[], senderId: string): TimelineItem[] {
  const waiting = unconfirmed(pending, confirmed, senderId)
    .slice()
    .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
  return waiting.length === 0 ? (confirmed as ChatMessage[]) : [...confirmed, ...waiting];
}

/** The seq of the first message after the read marker that someone else wrote (where the "new messages" line goes). */
export function firstUnreadSeq(messages: readonly ChatMessage[], lastReadSeq: number, me: string): number | undefined {
  for (const message of messages) {
    if (message.seq > lastReadSeq && message.senderId !== me && !message.deleted) return message.seq;
  }
  return undefined;
}

/** Consecutive messages of one sender within this long share one header. */
export const GROUP_WINDOW_MS = 5 * 60_000;

export function senderOf(item: TimelineItem): string {
  return item.senderId;
}

/** Whether `item` continues the group of `previous` (same sender, same day, close in time). */
export function continuesGroup(previous: TimelineItem | undefined, item: TimelineItem): boolean {
  if (!previous) return false;
  if (previous.senderId !== item.senderId) return false;
  if (!isPending(previous) && previous.deleted) return false;
  if (dayKey(previous.createdAt) !== dayKey(item.createdAt)) return false;
  return Date.parse(item.createdAt) - Date.parse(previous.createdAt) < GROUP_WINDOW_MS;
}

/** The local calendar day of an ISO time, e.g. "2025-03-07". */
export function dayKey(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}
