// Threads in the app (issue 16). A thread reply is a message of the room (its seq, on the room's
// stream), but the room's timeline shows it only when it was also sent to the room. Every message
// the socket delivers (new, edited, deleted) is also told to the open thread panels and the
// Threads view through this bus; they keep their own lists.
import { createSignal } from "solid-js";
import type { ChatMessage } from "./types";

/** Whether the room's timeline shows the message (not a reply kept in its thread). */
export function inRoomTimeline(message: ChatMessage): boolean {
  return !message.threadRootId || message.alsoSentToRoom === true;
}

type Listener = (message: ChatMessage) => void;
const listeners = new Set<Listener>();
/** Bumped on every thread reply or root change: what shows unread threads refetches on it. */
const [threadActivity, setThreadActivity] = createSignal(0);
export { threadActivity };

export const threadBus = {
  emit(message: ChatMessage): void {
    if (message.threadRootId || message.thread) setThreadActivity((n) => n + 1);
    for (const listener of listeners) listener(message);
  },
  /** Listens until the returned function is called. */
  listen(listener: Listener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  /** Something changed that the server counts (a thread read, a follow): refetch unread threads. */
  touched(): void {
    setThreadActivity((n) => n + 1);
  },
};

/** Upserts a reply into a thread's list, kept ascending by seq. */
export function upsertReply(list: readonly ChatMessage[], message: ChatMessage): ChatMessage[] {
  const index = list.findIndex((m) => m.id === message.id);
  if (index >= 0) {
    const current = list[index]!;
    if (current.change !== undefined && message.change !== undefined && message.change < current.change) return list as ChatMessage[];
    const next = list.slice();
    next[index] = message;
    return next;
  }
  return [...list, message].sort((a, b) => a.seq - b.seq);
}
