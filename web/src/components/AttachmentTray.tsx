// The composer's pending attachments (issue 19), above the box: each with a preview or a type
// icon, its name and size, a progress bar while it uploads (cancel aborts it), the reason when it
// failed (with Retry), and Remove once it is up (which deletes the upload).
import { createSignal, For, onCleanup, Show, type Accessor } from "solid-js";
import type { AttachmentTray, TrayItem } from "../lib/attachment-tray";
import { humanSize } from "../lib/files";
import { Icon } from "./Icon";
import "./Files.css";

/** The tray's items as a signal (the tray itself knows no framework). */
export function trayItems(tray: AttachmentTray): Accessor<readonly TrayItem[]> {
  const [items, setItems] = createSignal(tray.items(), { equals: false });
  onCleanup(tray.subscribe(() => setItems(tray.items())));
  return items;
}

export function AttachmentTrayView(props: { tray: AttachmentTray; items: Accessor<readonly TrayItem[]> }) {
  return (
    <Show when={props.items().length > 0}>
      <ul class="attachment-tray" aria-label="Attachments" data-testid="attachment-tray">
        <For each={props.items()}>
          {(item) => {
            const percent = () => (item.size > 0 ? Math.min(100, Math.round((item.loaded / item.size) * 100)) : 100);
            return (
              <li class="tray-item" data-status={item.status} data-testid="tray-item" data-name={item.name}>
                <span class="tray-thumb" aria-hidden="true">
                  <Show when={item.preview} fallback={<Icon name="file" size={22} />}>
                    <img src={item.preview} alt="" />
                  </Show>
                </span>
                <span class="tray-text">
                  <bdi class="file-name" title={item.name}>
                    {item.name}
                  </bdi>
                  <Show
                    when={item.status !== "failed"}
                    fallback={
                      <span class="tray-error" role="alert">
                        {item.error}
                      </span>
                    }
                  >
                    <span class="muted small">
                      {item.status === "uploading" ? `${humanSize(item.loaded)} of ${humanSize(item.size)}` : humanSize(item.size)}
                    </span>
                  </Show>
                  <Show when={item.status === "uploading"}>
                    <progress class="tray-progress" max={100} value={percent()} aria-label={`Uploading ${item.name}`} />
                  </Show>
                </span>
                <Show when={item.status === "failed"}>
                  <button type="button" class="icon-button" aria-label={`Retry ${item.name}`} title="Retry" onClick={() => props.tray.retry(item.key)}>
                    <Icon name="retry" size={16} />
                  </button>
                </Show>
                <button
                  type="button"
                  class="icon-button tray-remove"
                  aria-label={item.status === "uploading" ? `Cancel uploading ${item.name}` : `Remove ${item.name}`}
                  title={item.status === "uploading" ? "Cancel" : "Remove"}
                  onClick={() => props.tray.remove(item.key)}
                >
                  <Icon name="close" size={14} />
                </button>
              </li>
            );
          }}
        </For>
      </ul>
    </Show>
  );
}

/** The room view's drop zone: shown while files are dragged over it. */
export function createDropZone(onFiles: (files: File[]) => void) {
  const [active, setActive] = createSignal(false);
  let depth = 0;
  const hasFiles = (event: DragEvent) => Array.from(event.dataTransfer?.types ?? []).includes("Files");
  return {
    active,
    handlers: {
      onDragEnter(event: DragEvent) {
        if (!hasFiles(event)) return;
        event.preventDefault();
        depth++;
        setActive(true);
      },
      onDragOver(event: DragEvent) {
        if (!hasFiles(event)) return;
        event.preventDefault();
        if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
      },
      onDragLeave(event: DragEvent) {
        if (!hasFiles(event)) return;
        depth = Math.max(0, depth - 1);
        if (depth === 0) setActive(false);
      },
      onDrop(event: DragEvent) {
        const files = Array.from(event.dataTransfer?.files ?? []);
        depth = 0;
        setActive(false);
        if (files.length === 0) return;
        event.preventDefault();
        onFiles(files);
      },
    },
  };
}
