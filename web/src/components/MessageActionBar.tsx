// A message's actions: React (the emoji picker), Copy link, and Edit / Delete where allowed. Shown
// on hover and focus-within, and always on touch screens (no hover there). One button per action,
// in its own component so more (Pin, Reply) slot in here.
import { createSignal, Show, type JSX } from "solid-js";
import type { ChatMessage } from "../lib/types";
import { EmojiPicker } from "./EmojiPicker";
import { Icon } from "./Icon";

export interface ActionBarProps {
  message: ChatMessage;
  mine: boolean;
  canDelete: boolean;
  onReact: (emoji: string) => void;
  onEdit: () => void;
  onDelete: () => void;
  onCopyLink: () => void;
  /** Further actions (Pin, Reply...) go before Copy link. */
  extra?: JSX.Element;
}

export function MessageActionBar(props: ActionBarProps) {
  const [picking, setPicking] = createSignal(false);
  let reactButton!: HTMLButtonElement;
  const close = () => {
    setPicking(false);
    reactButton?.focus();
  };
  return (
    <div class="message-actions" classList={{ open: picking() }} role="group" aria-label="Message actions">
      <button
        ref={reactButton}
        type="button"
        class="icon-button"
        aria-label="Add reaction"
        title="Add reaction"
        aria-haspopup="dialog"
        aria-expanded={picking()}
        onClick={() => setPicking((v) => !v)}
      >
        <Icon name="smile" size={16} />
      </button>
      {props.extra}
      <button type="button" class="icon-button" aria-label="Copy link to message" title="Copy link" onClick={() => props.onCopyLink()}>
        <Icon name="link" size={16} />
      </button>
      <Show when={props.mine}>
        <button type="button" class="icon-button" aria-label="Edit message" title="Edit" onClick={() => props.onEdit()}>
          <Icon name="edit" size={16} />
        </button>
      </Show>
      <Show when={props.canDelete}>
        <button type="button" class="icon-button" aria-label="Delete message" title="Delete" onClick={() => props.onDelete()}>
          <Icon name="trash" size={16} />
        </button>
      </Show>
      <Show when={picking()}>
        <EmojiPicker
          label="Add reaction"
          onPick={(emoji) => {
            props.onReact(emoji);
            close();
          }}
          onClose={close}
        />
      </Show>
    </div>
  );
}
