// One timeline per opened room: history pages from the API, live messages, and my sends,
// edits and deletions, which all go over the socket: LiveClient queues them while it is
// down and retries them until the server answers (a send keeps its clientMsgId, so it is
// stored once). Sends show at once as pending; edits and deletions show once confirmed.
import { createMemo, createRoot, createSignal, type Accessor } from "solid-js";
import { newClientMsgId, type LiveClient } from "@parley/client";
import { api, errorMessage } from "../api";
import { toChatMessage } from "../live";
import { applyChange, mergeMessages, timelineItems, unconfirmed, type PendingSend, type TimelineItem } from "../timeline";
import type { ChatMessage } from "../types";
import type { Connection } from "./connection";
import { useChat } from "./context";

const PAGE = 50;

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

export type Timelines = ReturnType<typeof createTimelines>;

interface TimelineEntry {
  timeline: Timeline;
  /** Confirmed messages from the socket, an ack or the API. */
  receive(messages: ChatMessage[]): void;
  /** An edit or a deletion. */
  change(message: ChatMessage): void;
  dispose(): void;
}

export function createTimelines(deps: {
  myId: string;
  connection: Connection;
  notify: (text: string) => void;
  /** A send of mine was confirmed. */
  onSent: (message: ChatMessage) => void;
}) {
  const { myId, connection } = deps;
  const entries = new Map<string, TimelineEntry>();

  /** The socket client, or a refusal when there is none yet (before the app has started it). */
  function client(): LiveClient {
    const live = connection.client();
    if (!live) throw new Error("not connected yet");
    return live;
  }

  function timeline(roomId: string): Timeline {
    const existing = entries.get(roomId);
    if (existing) return existing.timeline;
    const entry = createRoot((dispose) => ({ ...makeTimeline(roomId), dispose }));
    entries.set(roomId, entry);
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
      const live = connection.client();
      if (!live) return failed(new Error("not connected yet"));
      live.send(roomId, send.body, { clientMsgId: send.clientMsgId }).then((message) => {
        const confirmed = toChatMessage(message);
        receive([confirmed]);
        deps.onSent(confirmed);
      }, failed);
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
          connection.subscribe(roomId, page.lastSeq);
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
          deps.notify(`Could not load older messages: ${errorMessage(failure)}`);
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

  /** Edits a message of mine; it changes on screen when the server has stored the edit. */
  async function edit(message: ChatMessage, body: string): Promise<void> {
    const edited = toChatMessage(await client().edit(message.id, body));
    entries.get(message.roomId)?.change(edited);
  }

  /** Deletes a message; it turns into a tombstone when the server has deleted it. */
  async function remove(message: ChatMessage): Promise<void> {
    const tombstone = toChatMessage(await client().delete(message.id));
    entries.get(message.roomId)?.change(tombstone);
  }

  function drop(roomId: string): void {
    entries.get(roomId)?.dispose();
    entries.delete(roomId);
  }

  return {
    timeline,
    edit,
    remove,
    /** Confirmed messages for a room's timeline, if it is open. */
    receive: (message: ChatMessage) => entries.get(message.roomId)?.receive([message]),
    /** An edit or a deletion for a room's timeline, if it is open. */
    change: (message: ChatMessage) => entries.get(message.roomId)?.change(message),
    /** The newest seq a room's timeline holds (where to resubscribe from). */
    newestSeq: (roomId: string): number | undefined => {
      const messages = entries.get(roomId)?.timeline.messages();
      return messages?.[messages.length - 1]?.seq;
    },
    /** After a break: every loaded timeline reads its newest page again (edits and deletions meanwhile). */
    reloadAll(): void {
      for (const { timeline: t } of entries.values()) if (t.status() === "ready") void t.loadLatest();
    },
    drop,
    close(): void {
      for (const { dispose } of entries.values()) dispose();
      entries.clear();
    },
  };
}

export const useTimelines = (): Timelines => useChat().timelines;
