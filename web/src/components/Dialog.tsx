// A modal on the native <dialog>: focus moves in (and back out when it closes),
// the rest of the page is inert, Escape and a click on the backdrop close it.
import { createUniqueId, onCleanup, onMount, type JSX } from "solid-js";
import { Icon } from "./Icon";
import "./Dialog.css";

export function Dialog(props: { title: string; onClose: () => void; children: JSX.Element; wide?: boolean; description?: string }) {
  let dialog!: HTMLDialogElement;
  const titleId = createUniqueId();
  const opener = document.activeElement as HTMLElement | null;
  onMount(() => {
    dialog.showModal();
    const first =
      dialog.querySelector<HTMLElement>("[autofocus]") ??
      dialog.querySelector<HTMLElement>("input, textarea, select, button:not(.dialog-close)");
    first?.focus();
  });
  onCleanup(() => {
    if (dialog.open) dialog.close();
    if (opener?.isConnected) opener.focus();
  });
  return (
    <dialog
      ref={dialog}
      class="dialog"
      classList={{ wide: props.wide }}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        props.onClose();
      }}
      onMouseDown={(event) => {
        if (event.target === dialog) props.onClose();
      }}
    >
      <div class="dialog-panel">
        <header class="dialog-head">
          <h2 id={titleId}>{props.title}</h2>
          <button type="button" class="icon-button dialog-close" aria-label="Close" onClick={() => props.onClose()}>
            <Icon name="close" />
          </button>
        </header>
        {props.description ? <p class="dialog-description">{props.description}</p> : null}
        {props.children}
      </div>
    </dialog>
  );
}

export function ConfirmDialog(props: {
  title: string;
  message: string;
  confirmLabel: string;
  danger?: boolean;
  onConfirm: () => void | Promise<void>;
  onClose: () => void;
}) {
  let busy = false;
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      <p>{props.message}</p>
      <div class="dialog-actions">
        <button type="button" class="button" onClick={() => props.onClose()}>
          Cancel
        </button>
        <button
          type="button"
          class="button"
          classList={{ danger: props.danger, primary: !props.danger }}
          autofocus
          onClick={async () => {
            if (busy) return;
            busy = true;
            try {
              await props.onConfirm();
            } finally {
              busy = false;
            }
          }}
        >
          {props.confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}
