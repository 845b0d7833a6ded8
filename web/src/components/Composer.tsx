// Writing a message: Enter sends, Shift+Enter adds a line, ↑ in an empty box
// edits your last message. Drafts are kept per room while the app is open.
// Files (issue 19): the paperclip, a paste or a drop on the room view add them to the tray above
// the box, where they upload at once; Send waits for the uploads and attaches what is up.
import { createSignal, onMount, Show } from "solid-js";
import { FIELDS, remaining as charactersLeft } from "@parley/proto/rules";
import { useTyping } from "../lib/store/typing";
import { autosize } from "./MessageItem";
import { Icon } from "./Icon";
import { EmojiPicker } from "./EmojiPicker";
import { createMentionAutocomplete, type MentionOption } from "./MentionAutocomplete";
import { AttachmentTrayView, trayItems } from "./AttachmentTray";
import type { AttachmentTray } from "../lib/attachment-tray";
import { pastedName } from "../lib/files";
import type { FileInfo } from "../lib/types";
import "./Composer.css";

const drafts = new Map<string, string>();

export function Composer(props: {
  roomId: string;
  label: string;
  onSend: (body: string, files: FileInfo[]) => void;
  onEditLast: () => boolean;
  /** The room's pending attachments (issue 19): without one, the composer takes text only. */
  tray?: AttachmentTray;
  /** Where the draft and the element ids are kept apart (a thread's composer: issue 16); the room by default. */
  draftKey?: string;
}) {
  const typing = useTyping();
  const key = () => props.draftKey ?? props.roomId;
  const [body, setBody] = createSignal(drafts.get(key()) ?? "");
  const [picking, setPicking] = createSignal(false);
  let input!: HTMLTextAreaElement;
  let picker!: HTMLInputElement;
  const attachments = props.tray ? trayItems(props.tray) : () => [];
  const uploading = () => attachments().some((item) => item.status === "uploading");
  const readyCount = () => attachments().filter((item) => item.status === "done").length;
  const mentions = createMentionAutocomplete(() => props.roomId, `mentions-${props.roomId}`);
  const pickMention = (option: MentionOption) => {
    const next = mentions.apply(body(), option, input.selectionStart ?? body().length);
    update(next.body);
    input.focus();
    input.setSelectionRange(next.caret, next.caret);
  };

  onMount(() => {
    autosize(input);
    // On a phone the keyboard would cover the history: only focus where there is room.
    if (globalThis.matchMedia?.("(min-width: 720px)").matches) input.focus();
  });

  const update = (value: string) => {
    setBody(value);
    drafts.set(key(), value);
    autosize(input);
  };

  const send = () => {
    const text = body().trim();
    const files = props.tray?.ready() ?? [];
    if (uploading() || (!text && files.length === 0) || charactersLeft(FIELDS.body, text) < 0) return;
    props.onSend(text, files);
    props.tray?.clear();
    update("");
    drafts.delete(key());
    input.focus();
  };

  /** Puts an emoji from the picker where the caret is. */
  const insertEmoji = (emoji: string) => {
    const start = input.selectionStart ?? body().length;
    const end = input.selectionEnd ?? start;
    update(body().slice(0, start) + emoji + body().slice(end));
    setPicking(false);
    input.focus();
    input.setSelectionRange(start + emoji.length, start + emoji.length);
  };

  // Counted as the server counts: characters (code points) after trimming.
  const remaining = () => charactersLeft(FIELDS.body, body());
  const canSend = () => !uploading() && (body().trim() !== "" || readyCount() > 0) && remaining() >= 0;

  /** Files pasted (a screenshot, files copied in a file manager) go to the tray; text pastes as usual. */
  const paste = (event: ClipboardEvent) => {
    if (!props.tray) return;
    const files = Array.from(event.clipboardData?.files ?? []);
    if (files.length === 0) return;
    event.preventDefault();
    const now = new Date();
    props.tray.add(files.map((file) => (pastedName(file, now) === file.name ? file : new File([file], pastedName(file, now), { type: file.type }))));
  };

  return (
    <form
      class="composer"
      classList={{ "with-tray": attachments().length > 0 }}
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <Show when={props.tray}>
        {(tray) => <AttachmentTrayView tray={tray()} items={attachments} />}
      </Show>
      <Show when={props.tray}>
        {(tray) => (
          <>
            <input
              ref={picker}
              type="file"
              multiple
              hidden
              data-testid="file-input"
              onChange={(e) => {
                const files = Array.from(e.currentTarget.files ?? []);
                e.currentTarget.value = "";
                if (files.length > 0) tray().add(files);
                input.focus();
              }}
            />
            <button type="button" class="icon-button composer-attach" aria-label="Attach files" title="Attach files" onClick={() => picker.click()}>
              <Icon name="paperclip" />
            </button>
          </>
        )}
      </Show>
      <label class="sr-only" for={`composer-${key()}`}>
        {props.label}
      </label>
      <textarea
        id={`composer-${key()}`}
        ref={input}
        rows={1}
        placeholder={props.label}
        value={body()}
        aria-describedby={`composer-hint-${key()}`}
        {...mentions.inputProps()}
        onClick={(e) => mentions.track(e.currentTarget)}
        onBlur={() => mentions.close()}
        onPaste={paste}
        onInput={(e) => {
          update(e.currentTarget.value);
          mentions.track(e.currentTarget);
          if (e.currentTarget.value.trim()) typing.iAmTyping(props.roomId);
        }}
        onKeyDown={(e) => {
          if (mentions.onKey(e, pickMention)) return;
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            send();
          } else if (e.key === "ArrowUp" && body() === "" && props.onEditLast()) {
            e.preventDefault();
          }
        }}
      />
      <mentions.Listbox onPick={pickMention} />
      <span id={`composer-hint-${key()}`} class="sr-only">
        Enter to send, Shift+Enter for a new line. Markdown: **bold**, *italic*, `code`, links and lists.
        {props.tray ? " Paste or drop files to attach them." : ""}
      </span>
      <Show when={remaining() < 500}>
        <span class="char-count" classList={{ over: remaining() < 0 }} aria-live="polite">
          {remaining()}
        </span>
      </Show>
      <div class="composer-emoji">
        <button
          type="button"
          class="icon-button"
          aria-label="Insert emoji"
          title="Insert emoji"
          aria-haspopup="dialog"
          aria-expanded={picking()}
          onClick={() => setPicking((v) => !v)}
        >
          <Icon name="smile" />
        </button>
        <Show when={picking()}>
          <EmojiPicker
            label="Insert emoji"
            onPick={insertEmoji}
            onClose={() => {
              setPicking(false);
              input.focus();
            }}
          />
        </Show>
      </div>
      <Show when={uploading()}>
        <span class="sr-only" role="status">
          Uploading: Send waits for the files.
        </span>
      </Show>
      <button
        type="submit"
        class="icon-button send-button"
        aria-label={uploading() ? "Send message (waiting for uploads)" : "Send message"}
        title={uploading() ? "Waiting for uploads" : undefined}
        disabled={!canSend()}
      >
        <Icon name="send" />
      </button>
    </form>
  );
}
