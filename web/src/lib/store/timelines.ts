// One timeline per opened room: history pages from the API, live messages, and my sends,
// edits and deletions, which all go over the socket: LiveClient queues them while it is
// down and retries them until the server answers (a send keeps its clientMsgId, so it is
// stored once). Sends show at once as pending; edits and deletions show once confirmed.
//
// Every change from the room's stream (a new message, an edit, a deletion, live or replayed
// after a break) is upserted by seq into the history the timeline holds, however far up it
// is: after a reconnect the client resumes from its stream position and the server replays
// exactly what changed, so nothing is read again. Changes that come while the first page is
// on its way are kept and merged with it (the later version of each message wins), and the
// page's position goes to the client, which replays from it if the stream was further on.
import { createMemo, createRoot, createSignal, type Accessor } from "solid-js";
import { newClientMsgId, type LiveClient } from "@parley/client";
import { api, errorMessage } from "../api";
import { toChatMessage } from "../live";
import { inRoomTimeline } from "../threads";
import { mergeMessages, timelineItems, unconfirmed, upsertLoaded, type PendingSend, type TimelineItem } from "../timeline";
import { lastChangeOf, type ChatMessage, type FileInfo } from "../types";
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
  /** Sends a message, with files already uploaded (issue 19). */
  send(body: string, files?: FileInfo[]): void;
  retry(clientMsgId: string): void;
  discard(clientMsgId: string): void;
}

export type Timelines = ReturnType<typeof createTimelines>;

interface TimelineEntry {
  timeline: Timeline;
  /** Confirmed messages from the socket, an ack or the API. */
  receive(messages: ChatMessage[]): void;
  /** An edit or a deletion (or any later version of a message). */
  change(message: ChatMessage): void;
  /** The room's history is to be loaded afresh (the stream said our copy is ahead of the room). */
  reset(): void;
  dispose(): void;
}

export function createTimelines(deps: {
  myId: string;
  connection: Connection;
  notify: (text: string) => void;
  /** A send of mine was confirmed. */
  onSent: (message: ChatMessage) => void;
  /** The room lane position of what the app knows of the room (Room.last_change), if the API told it. */
  roomLastChange?: (roomId: string) => number | undefined;
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
    let loading: Promise<void> | undefined;
    /** Bumped by a reset: a page read before it is not used. */
    let generation = 0;

    /** The oldest seq held while older history is not loaded: older changes wait for their page. Before the first page, everything is kept. */
    const loadedFrom = (): number | undefined => (status() === "ready" && hasOlder() ? messages()[0]?.seq : undefined);
    // Thread replies not also sent to the room live in their thread panel, not here.
    const upsert = (incoming: ChatMessage[]) =>
      setMessages((current) => upsertLoaded(current, incoming.filter(inRoomTimeline), roomId, loadedFrom()));

    const receive = (incoming: ChatMessage[]) => {
      upsert(incoming);
      setPending((current) => unconfirmed(current, incoming, myId));
    };

    const dispatch = (send: PendingSend) => {
      const failed = (failure: unknown) =>
        setPending((list) =>
          list.map((p) => (p.clientMsgId === send.clientMsgId ? { ...p, status: "failed", error: errorMessage(failure) } : p)),
        );
      const live = connection.client();
      if (!live) return failed(new Error("not connected yet"));
      const fileIds = (send.attachments ?? []).map((f) => f.id);
      live.send(roomId, send.body, { clientMsgId: send.clientMsgId, ...(fileIds.length > 0 && { fileIds }) }).then((message) => {
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
      loadLatest() {
        loading ??= (async () => {
          const asked = generation;
          try {
            const page = await api.messages.list.query({ roomId, limit: PAGE });
            if (asked !== generation) return;
            const oldest = page.messages[0]?.seq;
            setMessages((current) => {
              if (status() === "ready") return upsertLoaded(current, page.messages, roomId, loadedFrom());
              // The page, and what the stream brought while it was on its way (the later version
              // of each message wins); nothing older than the page, whose neighbours are not loaded.
              const early = page.hasOlder && oldest !== undefined ? current.filter((m) => m.seq >= oldest) : current;
              return mergeMessages(page.messages, early, roomId);
            });
            setPending((current) => unconfirmed(current, page.messages, myId));
            if (status() !== "ready") setHasOlder(page.hasOlder);
            setStatus("ready");
            setError(null);
            // Where the page stands in the room's stream: the client replays from it if it was further on.
            connection.resume(roomId, { lastSeq: page.lastSeq, messages: lastChangeOf(page), room: deps.roomLastChange?.(roomId) });
          } catch (failure) {
            if (asked === generation && status() !== "ready") {
              setStatus("error");
              setError(errorMessage(failure));
            }
          } finally {
            loading = undefined;
          }
        })();
        return loading;
      },
      async loadOlder(keep) {
        if (!hasOlder() || loadingOlder() || status() !== "ready") return 0;
        const oldest = messages()[0]?.seq;
        if (oldest === undefined) return 0;
        setLoadingOlder(true);
        const asked = generation;
        try {
          const page = await api.messages.list.query({ roomId, before: oldest, limit: PAGE });
          if (asked !== generation) return 0;
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
      send(body: string, files: FileInfo[] = []) {
        const send: PendingSend = {
          clientMsgId: newClientMsgId(),
          roomId,
          senderId: myId,
          body,
          createdAt: new Date().toISOString(),
          status: "sending",
          ...(files.length > 0 && { attachments: files }),
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
    const change = (message: ChatMessage) => upsert([message]);
    const reset = () => {
      generation++;
      setMessages([]);
      setHasOlder(false);
      setStatus("loading");
      setError(null);
      void (loading ?? Promise.resolve()).then(() => self.loadLatest());
    };
    return { timeline: self, receive, change, reset };
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

  // --- reactions ---
  /** Adds or takes back my reaction; the message changes on screen when the server has stored it. */
  async function react(message: ChatMessage, emoji: string, add: boolean): Promise<void> {
    const input = { id: message.id, emoji };
    const reacted = add ? await api.messages.react.mutate(input) : await api.messages.unreact.mutate(input);
    entries.get(message.roomId)?.change(reacted);
  }

  function drop(roomId: string): void {
    entries.get(roomId)?.dispose();
    entries.delete(roomId);
  }

  return {
    timeline,
    edit,
    remove,
    react,
    /** Confirmed messages for a room's timeline, if it is open. */
    receive: (message: ChatMessage) => entries.get(message.roomId)?.receive([message]),
    /** An edit or a deletion for a room's timeline, if it is open: applied wherever it is in the history loaded. */
    change: (message: ChatMessage) => entries.get(message.roomId)?.change(message),
    /** The room's history is loaded afresh (its stream position was ahead of the room: a restored database). */
    reset: (roomId: string) => entries.get(roomId)?.reset(),
    /** The newest seq a room's timeline holds (where to resubscribe from). */
    newestSeq: (roomId: string): number | undefined => {
      const messages = entries.get(roomId)?.timeline.messages();
      return messages?.[messages.length - 1]?.seq;
    },
    drop,
    close(): void {
      for (const { dispose } of entries.values()) dispose();
      entries.clear();
    },
  };
}

export const useTimelines = (): Timelines => useChat().timelines;
