// A thread beside the room (issue 16), a full view on a phone: its root, its replies (paged by
// seq, live over the room's stream through threadBus, editable and deletable like messages), a
// composer with "Also send to room", and Follow / Unfollow. Reading it marks it read.
import { newClientMsgId } from "@parley/client";
import { createEffect, createSignal, For, on, onCleanup, Show } from "solid-js";
import { api, errorMessage } from "../lib/api";
import { highlightMessage } from "../lib/message-link";
import { notify } from "../lib/notify";
import { threadBus, upsertReply } from "../lib/threads";
import type { ChatMessage, FileInfo, ThreadInfo } from "../lib/types";
import { trayFor } from "../lib/file-api";
import { Composer } from "./Composer";
import { Icon } from "./Icon";
import { MessageItem, type MessageActions } from "./MessageItem";
import { ThreadMuteButton } from "./NotificationSettings";
import "./Thread.css";

export function ThreadPanel(props: {
  roomId: string;
  rootId: string;
  archived: boolean;
  actions: MessageActions;
  editingId: () => string | null;
  onClose(): void;
  /** A reply to show and highlight once loaded (a search result: /rooms/:id?thread=root&reply=seq). */
  highlightSeq?: number;
}) {
  const [root, setRoot] = createSignal<ChatMessage | null>(null);
  const [state, setState] = createSignal<Pick<ThreadInfo, "following" | "unreadCount"> | null>(null);
  const [replies, setReplies] = createSignal<ChatMessage[]>([]);
  const [hasOlder, setHasOlder] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  const [alsoSend, setAlsoSend] = createSignal(false);
  let list!: HTMLDivElement;
  // Replies open no thread of their own: a reply to a reply is one in the same thread.
  const actions: MessageActions = { ...props.actions, openThread: undefined };

  const load = async (rootId: string) => {
    setError(null);
    try {
      const page = await api.threads.get.query({ id: rootId, limit: 50 });
      setRoot(page.thread.root as ChatMessage);
      setState(page.thread);
      setReplies(page.messages as ChatMessage[]);
      setHasOlder(page.hasOlder);
      if (props.highlightSeq !== undefined) void showReply(props.highlightSeq);
      else queueMicrotask(() => list?.scrollTo({ top: list.scrollHeight }));
    } catch (failure) {
      setError(errorMessage(failure));
    }
  };
  createEffect(on(() => props.rootId, (rootId) => void load(rootId)));

  const loadOlder = async () => {
    const first = replies()[0];
    if (!first) return;
    const page = await api.threads.get.query({ id: props.rootId, before: first.seq, limit: 50 });
    setReplies((current) => (page.messages as ChatMessage[]).reduce(upsertReply, current));
    setHasOlder(page.hasOlder);
  };

  // A reply further back than the first page: older pages until it is in, then highlighted.
  const showReply = async (seq: number) => {
    while (hasOlder() && (replies()[0]?.seq ?? 0) > seq) {
      const before = replies().length;
      await loadOlder();
      if (replies().length === before) break;
    }
    await new Promise((resolve) => requestAnimationFrame(resolve));
    const element = list?.querySelector<HTMLElement>(`[data-seq="${seq}"]`);
    if (element) highlightMessage(element);
    else notify(`Reply ${seq} is not in this thread any more.`);
  };

  // Live: the thread's replies and its root, as the room's stream brings them.
  onCleanup(
    threadBus.listen((message) => {
      if (message.id === props.rootId) setRoot(message);
      else if (message.threadRootId === props.rootId) {
        const atBottom = list && list.scrollHeight - list.scrollTop - list.clientHeight < 40;
        setReplies((current) => upsertReply(current, message));
        if (atBottom) queueMicrotask(() => list?.scrollTo({ top: list.scrollHeight }));
      }
    }),
  );

  // Open and showing the newest reply: read. Only a followed thread keeps a marker.
  let reading: Promise<unknown> | undefined;
  createEffect(
    on(
      () => [replies().at(-1)?.seq, state()?.following] as const,
      ([newest, following]) => {
        if (newest === undefined || !following || reading) return;
        reading = api.threads.read
          .mutate({ rootId: props.rootId })
          .then((thread) => {
            setState(thread);
            threadBus.touched();
          })
          .catch(() => undefined)
          .finally(() => (reading = undefined));
      },
    ),
  );

  const toggleFollow = async () => {
    try {
      const thread = state()?.following
        ? await api.threads.unfollow.mutate({ rootId: props.rootId })
        : await api.threads.follow.mutate({ rootId: props.rootId });
      setState(thread);
      threadBus.touched();
    } catch (failure) {
      notify(`Could not change following: ${errorMessage(failure)}`);
    }
  };

  // Files in a reply (issue 19): the thread's own tray.
  const tray = trayFor(`thread-${props.rootId}`, props.roomId);
  const send = async (body: string, files: FileInfo[] = []) => {
    try {
      const reply = (await api.messages.send.mutate({
        roomId: props.roomId,
        body,
        ...(files.length > 0 && { fileIds: files.map((f) => f.id) }),
        clientMsgId: newClientMsgId(),
        threadRootId: props.rootId,
        alsoSendToRoom: alsoSend() || undefined,
      })) as ChatMessage;
      setReplies((current) => upsertReply(current, reply));
      // Replying follows the thread.
      setState((s) => ({ following: true, unreadCount: s?.unreadCount ?? 0 }));
      queueMicrotask(() => list?.scrollTo({ top: list.scrollHeight }));
    } catch (failure) {
      notify(`Could not send the reply: ${errorMessage(failure)}`);
    }
  };

  const count = () => root()?.thread?.replyCount ?? replies().filter((r) => !r.deleted).length;

  return (
    <aside class="thread-panel" aria-labelledby={`thread-${props.rootId}`} data-testid="thread-panel">
      <header class="members-head thread-head">
        <h2 id={`thread-${props.rootId}`}>Thread</h2>
        <Show when={state()}>
          <button
            type="button"
            class="button small"
            data-testid="thread-follow"
            aria-pressed={state()!.following}
            onClick={() => void toggleFollow()}
          >
            {state()!.following ? "Following" : "Follow"}
          </button>
        </Show>
        <ThreadMuteButton roomId={props.roomId} rootId={props.rootId} />
        <button type="button" class="icon-button" aria-label="Close thread" onClick={() => props.onClose()}>
          <Icon name="close" size={16} />
        </button>
      </header>
      <Show when={!error()} fallback={<p class="form-error thread-error">{error()}</p>}>
        <div class="thread-scroll" ref={list}>
          <Show when={root()}>
            {(message) => <MessageItem item={message()} grouped={false} editing={props.editingId() === message().id} actions={actions} />}
          </Show>
          <div class="thread-divider" role="separator">
            <span>
              {count()} {count() === 1 ? "reply" : "replies"}
            </span>
          </div>
          <Show when={hasOlder()}>
            <button type="button" class="link-button thread-older" onClick={() => void loadOlder()}>
              Show older replies
            </button>
          </Show>
          <For each={replies()}>
            {(reply) => (
              <div data-testid="thread-reply">
                <MessageItem item={reply} grouped={false} editing={props.editingId() === reply.id} actions={actions} />
              </div>
            )}
          </For>
        </div>
        <Show when={!props.archived && root() && !root()!.deleted}>
          <div class="thread-compose">
            <Composer roomId={props.roomId} draftKey={`thread-${props.rootId}`} label="Reply in thread" tray={tray} onSend={(body, files) => void send(body, files)} onEditLast={() => false} />
            <label class="thread-also">
              <input type="checkbox" checked={alsoSend()} onChange={(e) => setAlsoSend(e.currentTarget.checked)} data-testid="also-send" />
              Also send to the room
            </label>
          </div>
        </Show>
      </Show>
    </aside>
  );
}
