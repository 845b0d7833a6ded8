// One message in the list: its sender (unless it continues a group), the body
// as safe markdown, edited / deleted / pending / failed states, and its actions.
import { FIELDS, maxInputLength } from "@parley/proto/rules";
import { createSignal, onMount, Show } from "solid-js";
import { usePeople } from "../lib/store/people";
import { fullTimeOf, timeOf } from "../lib/format";
import { isPending, type PendingSend, type TimelineItem } from "../lib/timeline";
import type { ChatMessage, FileInfo, LinkPreview } from "../lib/types";
import { MessageAttachments } from "./Attachments";
import { LinkPreviews } from "./LinkPreviews";
import { Avatar } from "./Avatar";
import { EditedMarker } from "./EditHistory";
import { Icon } from "./Icon";
import { Markdown } from "./Markdown";
import { mentionHighlights, mentionsMe } from "../lib/mentions";
import { MessageActionBar } from "./MessageActionBar";
import { Reactions } from "./Reactions";
import { ThreadSummaryRow } from "./ThreadSummaryRow";
import "./MessageItem.css";

export interface MessageActions {
  canDelete(message: ChatMessage): boolean;
  startEdit(message: ChatMessage): void;
  cancelEdit(): void;
  saveEdit(message: ChatMessage, body: string): Promise<void>;
  askDelete(message: ChatMessage): void;
  // --- pins (issue 16) ---
  canPin(message: ChatMessage): boolean;
  togglePin(message: ChatMessage): void;
  retry(clientMsgId: string): void;
  discard(clientMsgId: string): void;
  // --- reactions / action bar ---
  react(message: ChatMessage, emoji: string, add: boolean): void;
  copyLink(message: ChatMessage): void;
  // --- threads (issue 16): absent inside a thread ---
  openThread?(message: ChatMessage): void;
  // --- files and link previews (issue 19) ---
  openImage?(file: FileInfo): void;
  removeLinkPreview?(message: ChatMessage, preview: LinkPreview): void;
}

export function MessageItem(props: { item: TimelineItem; grouped: boolean; editing: boolean; actions: MessageActions }) {
  const people = usePeople();
  const item = () => props.item;
  const confirmed = (): ChatMessage | null => {
    const current = item();
    return isPending(current) ? null : current;
  };
  const pending = (): PendingSend | null => {
    const current = item();
    return isPending(current) ? current : null;
  };
  const mine = () => item().senderId === people.myId;
  const name = () => people.nameOf(item().senderId);
  const sender = () => people.users[item().senderId];
  const deleted = () => confirmed()?.deleted ?? false;
  const mentioned = () => {
    const message = confirmed();
    return message ? mentionsMe(message, people.myId) : false;
  };

  return (
    <article
      class="message"
      classList={{
        grouped: props.grouped,
        mine: mine(),
        pending: pending()?.status === "sending",
        failed: pending()?.status === "failed",
        deleted: deleted(),
        editing: props.editing,
        "mentions-me": mentioned(),
      }}
      data-testid="message"
      data-seq={confirmed()?.seq}
      data-client-msg-id={item().clientMsgId}
      data-status={pending()?.status ?? (deleted() ? "deleted" : "sent")}
      data-pinned={confirmed()?.pinnedAt ? "true" : undefined}
      id={confirmed() ? `message-${confirmed()!.id}` : undefined}
      aria-label={props.grouped ? undefined : `${name()} at ${timeOf(item().createdAt)}`}
    >
      <div class="message-gutter">
        <Show when={!props.grouped} fallback={<time class="hover-time" datetime={item().createdAt} title={fullTimeOf(item().createdAt)}>{timeOf(item().createdAt)}</time>}>
          <Avatar userId={item().senderId} name={name()} url={sender()?.avatarUrl} size={36} />
        </Show>
      </div>
      <div class="message-content">
        <Show when={!props.grouped}>
          <header class="message-head">
            <bdi class="author">{name()}</bdi>
            <time datetime={item().createdAt} title={fullTimeOf(item().createdAt)}>
              {timeOf(item().createdAt)}
            </time>
          </header>
        </Show>
        <Show
          when={props.editing && confirmed()}
          fallback={
            <div class="message-body" dir="auto">
              <Show when={!deleted()} fallback={<p class="tombstone">This message was deleted.</p>}>
                <Markdown text={item().body} mentions={mentionHighlights(confirmed() ?? {}, people, people.me().username)} />
                <Show when={confirmed()?.editedAt}>
                  {" "}
                  <EditedMarker message={confirmed()!} />
                </Show>
                {/* --- pins (issue 16) --- */}
                <Show when={confirmed()?.pinnedAt}>
                  {" "}
                  <span class="pinned-marker" data-testid="pinned-marker" title={`Pinned ${fullTimeOf(confirmed()!.pinnedAt!)}`}>
                    <Icon name="pin" size={12} aria-hidden="true" /> Pinned
                  </span>
                </Show>
              </Show>
            </div>
          }
        >
          {(message) => <EditBox message={message()} actions={props.actions} />}
        </Show>
        {/* --- files and link previews (issue 19): a deleted message has neither --- */}
        <Show when={!deleted() && (item().attachments?.length ?? 0) > 0}>
          <MessageAttachments files={item().attachments!} onOpenImage={props.actions.openImage} />
        </Show>
        <Show when={!deleted() && (confirmed()?.linkPreviews?.length ?? 0) > 0}>
          <LinkPreviews
            previews={confirmed()!.linkPreviews!}
            onRemove={mine() && props.actions.removeLinkPreview ? (preview) => props.actions.removeLinkPreview!(confirmed()!, preview) : undefined}
          />
        </Show>
        <Show when={confirmed() && !deleted()}>
          <Reactions message={confirmed()!} onToggle={(emoji, add) => props.actions.react(confirmed()!, emoji, add)} />
        </Show>
        {/* --- threads (issue 16) --- */}
        <Show when={confirmed() && props.actions.openThread}>
          <ThreadSummaryRow message={confirmed()!} onOpen={() => props.actions.openThread!(confirmed()!)} />
        </Show>
        <Show when={confirmed()?.threadRootId && props.actions.openThread}>
          <button type="button" class="link-button small thread-origin" onClick={() => props.actions.openThread!(confirmed()!)}>
            Replied in a thread
          </button>
        </Show>
        <Show when={pending()}>
          {(send) => (
            <div class="send-status" role={send().status === "failed" ? "alert" : undefined}>
              <Show when={send().status === "failed"} fallback={<span class="muted">Sending…</span>}>
                <span class="error-text">Not sent{send().error ? `: ${send().error}` : ""}.</span>
                <button type="button" class="link-button" onClick={() => props.actions.retry(send().clientMsgId)}>
                  Retry
                </button>
                <button type="button" class="link-button" onClick={() => props.actions.discard(send().clientMsgId)}>
                  Discard
                </button>
              </Show>
            </div>
          )}
        </Show>
      </div>
      <Show when={confirmed() && !deleted() && !props.editing}>
        <MessageActionBar
          message={confirmed()!}
          mine={mine()}
          canDelete={props.actions.canDelete(confirmed()!)}
          onReact={(emoji) => {
            const m = confirmed()!;
            const had = m.reactions?.some((r) => r.emoji === emoji && r.userIds.includes(people.myId));
            if (!had) props.actions.react(m, emoji, true);
          }}
          onEdit={() => props.actions.startEdit(confirmed()!)}
          onDelete={() => props.actions.askDelete(confirmed()!)}
          onCopyLink={() => props.actions.copyLink(confirmed()!)}
          extra={
            <>
            {/* --- threads (issue 16) --- */}
            <Show when={props.actions.openThread}>
              <button type="button" class="icon-button" aria-label="Reply in thread" title="Reply in thread" onClick={() => props.actions.openThread!(confirmed()!)}>
                <Icon name="message" size={16} />
              </button>
            </Show>
            {/* --- pins (issue 16) --- */}
            <Show when={props.actions.canPin(confirmed()!)}>
              <button
                type="button"
                class="icon-button"
                aria-label={confirmed()!.pinnedAt ? "Unpin message" : "Pin message"}
                title={confirmed()!.pinnedAt ? "Unpin" : "Pin"}
                aria-pressed={Boolean(confirmed()!.pinnedAt)}
                onClick={() => props.actions.togglePin(confirmed()!)}
              >
                <Icon name="pin" size={16} />
              </button>
            </Show>
            </>
          }
        />
      </Show>
    </article>
  );
}

function EditBox(props: { message: ChatMessage; actions: MessageActions }) {
  const [body, setBody] = createSignal(props.message.body);
  const [busy, setBusy] = createSignal(false);
  let input!: HTMLTextAreaElement;
  onMount(() => {
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    autosize(input);
  });
  const save = async () => {
    const text = body().trim();
    if (!text || text === props.message.body) return props.actions.cancelEdit();
    setBusy(true);
    try {
      await props.actions.saveEdit(props.message, text);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      class="edit-box"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <label class="sr-only" for={`edit-${props.message.id}`}>
        Edit message
      </label>
      <textarea
        id={`edit-${props.message.id}`}
        ref={input}
        rows={1}
        value={body()}
        maxLength={maxInputLength(FIELDS.body)}
        onInput={(e) => {
          setBody(e.currentTarget.value);
          autosize(e.currentTarget);
        }}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.preventDefault();
            e.stopPropagation();
            props.actions.cancelEdit();
          } else if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            void save();
          }
        }}
      />
      <div class="edit-actions">
        <span class="muted small">Escape to cancel · Enter to save</span>
        <button type="button" class="button small" onClick={() => props.actions.cancelEdit()}>
          Cancel
        </button>
        <button type="submit" class="button small primary" disabled={busy()}>
          {busy() ? "Saving…" : "Save"}
        </button>
      </div>
    </form>
  );
}

export function autosize(textarea: HTMLTextAreaElement): void {
  textarea.style.height = "auto";
  textarea.style.height = `${Math.min(textarea.scrollHeight, 240)}px`;
}
