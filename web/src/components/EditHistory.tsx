// The "(edited)" marker of a message: a button that opens its edit history, the current text and
// every earlier one (GET /messages/:id/versions, newest first), each rendered as safe markdown.
import { createResource, createSignal, For, Show } from "solid-js";
import { api, errorMessage } from "../lib/api";
import { fullTimeOf } from "../lib/format";
import type { ChatMessage } from "../lib/types";
import { Dialog } from "./Dialog";
import { Markdown } from "./Markdown";

export function EditedMarker(props: { message: ChatMessage }) {
  const [open, setOpen] = createSignal(false);
  return (
    <>
      <button
        type="button"
        class="edited"
        title={`Edited ${fullTimeOf(props.message.editedAt!)} — show edit history`}
        aria-haspopup="dialog"
        onClick={() => setOpen(true)}
      >
        (edited)
      </button>
      <Show when={open()}>
        <EditHistoryDialog message={props.message} onClose={() => setOpen(false)} />
      </Show>
    </>
  );
}

function EditHistoryDialog(props: { message: ChatMessage; onClose: () => void }) {
  // Fetched again when the message changes while the dialog is open (another edit arrives live).
  const [versions] = createResource(
    () => `${props.message.id}:${props.message.editedAt}`,
    async () => (await api.messages.versions.query({ id: props.message.id })).versions,
  );
  return (
    <Dialog title="Edit history" onClose={props.onClose}>
      <Show when={!versions.error} fallback={<p class="form-error">{errorMessage(versions.error)}</p>}>
        <ol class="edit-history" data-testid="edit-history">
          <li class="edit-version" data-testid="edit-version" data-current="true">
            <span class="muted small">
              Current · edited <time datetime={props.message.editedAt!}>{fullTimeOf(props.message.editedAt!)}</time>
            </span>
            <div dir="auto">
              <Markdown text={props.message.body} />
            </div>
          </li>
          <For each={versions.latest ?? []}>
            {(version) => (
              <li class="edit-version" data-testid="edit-version">
                <span class="muted small">
                  {version.version === 1 ? "Original · sent" : `Version ${version.version} · written`}{" "}
                  <time datetime={version.createdAt}>{fullTimeOf(version.createdAt)}</time>
                </span>
                <div dir="auto">
                  <Markdown text={version.body} />
                </div>
              </li>
            )}
          </For>
        </ol>
        <Show when={versions.loading && !versions.latest}>
          <p class="muted small">Loading…</p>
        </Show>
      </Show>
    </Dialog>
  );
}
