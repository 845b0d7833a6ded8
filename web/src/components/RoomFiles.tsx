// A room's files (issue 19), newest first, in a side panel like the member list: images as a grid
// of thumbnails (each opens the lightbox), other files as rows with their download link, a page
// at a time ("Load more"). The first page is read again whenever the timeline holds a file it
// did not (one arrived, live) or loses one (its message deleted).
import { createEffect, createSignal, For, on, onCleanup, onMount, Show, type Accessor } from "solid-js";
import { api, errorMessage } from "../lib/api";
import { createSignedUrl } from "../lib/file-api";
import { relativeTime } from "../lib/format";
import { usePeople } from "../lib/store/people";
import type { FileInfo } from "../lib/types";
import { FileCard } from "./Attachments";
import { Icon } from "./Icon";
import "./MemberList.css";
import "./Files.css";

const PAGE = 30;
/** Where the panel is a full-screen overlay (as in MemberList.css). */
const PHONE = "(max-width: 720px)";

export function RoomFiles(props: { roomId: string; filesKey: Accessor<string>; onOpenImage(file: FileInfo, all: FileInfo[]): void; onClose(): void }) {
  const people = usePeople();
  const [files, setFiles] = createSignal<FileInfo[]>([]);
  const [next, setNext] = createSignal<string | null>(null);
  const [state, setState] = createSignal<"loading" | "ready" | "more" | string>("loading");
  let generation = 0;

  const load = async (pageToken?: string) => {
    const mine = pageToken ? generation : ++generation;
    setState(pageToken ? "more" : files().length > 0 ? "ready" : "loading");
    try {
      const page = await api.files.listRoom.query({ roomId: props.roomId, limit: PAGE, ...(pageToken && { cursor: pageToken }) });
      if (mine !== generation) return;
      setFiles((current) => (pageToken ? [...current, ...page.files.filter((f) => !current.some((c) => c.id === f.id))] : page.files));
      // A fresh first page starts the paging again.
      setNext(page.nextCursor);
      setState("ready");
    } catch (failure) {
      if (mine === generation) setState(errorMessage(failure));
    }
  };
  void load();
  createEffect(on(props.filesKey, () => void load(), { defer: true }));

  const images = () => files().filter((f) => f.display === "image");
  const others = () => files().filter((f) => f.display !== "image");
  const failed = () => !["loading", "ready", "more"].includes(state());

  const opener = document.activeElement as HTMLElement | null;
  const overlay = () => globalThis.matchMedia?.(PHONE).matches ?? false;
  let close!: HTMLButtonElement;
  onMount(() => {
    if (overlay()) close.focus();
  });
  onCleanup(() => {
    const lost = !document.activeElement || document.activeElement === document.body || !document.activeElement.isConnected;
    if (opener?.isConnected && (lost || overlay())) opener.focus();
  });

  return (
    <aside
      class="members room-files"
      aria-labelledby={`files-${props.roomId}`}
      data-testid="files-panel"
      onKeyDown={(event) => {
        if (event.key === "Escape" && !(event.target as HTMLElement).closest("dialog")) {
          event.stopPropagation();
          props.onClose();
        }
      }}
    >
      <header class="members-head">
        <h2 id={`files-${props.roomId}`}>
          Files <span class="muted">· {state() === "loading" ? "…" : `${files().length}${next() ? "+" : ""}`}</span>
        </h2>
        <button ref={close} type="button" class="icon-button" aria-label="Hide files" onClick={() => props.onClose()}>
          <Icon name="close" size={16} />
        </button>
      </header>
      <Show when={!failed()} fallback={<p class="form-error">{state()}</p>}>
        <Show when={state() !== "loading" || files().length > 0} fallback={<p class="muted small members-online" role="status">Loading files…</p>}>
          <Show when={files().length > 0} fallback={<p class="muted small members-online">No files in this room yet.</p>}>
            <Show when={images().length > 0}>
              <h3 class="room-files-heading">Images</h3>
              <ul class="room-files-grid" aria-label="Images">
                <For each={images()}>
                  {(file) => (
                    <li>
                      <GridImage file={file} label={`${file.name}, from ${people.nameOf(file.uploaderId)}, ${relativeTime(file.createdAt)}`} onOpen={() => props.onOpenImage(file, images())} />
                    </li>
                  )}
                </For>
              </ul>
            </Show>
            <Show when={others().length > 0}>
              <h3 class="room-files-heading">Files</h3>
              <ul class="room-files-list" aria-label="Other files">
                <For each={others()}>
                  {(file) => (
                    <li data-testid="room-file">
                      <FileCard file={file} compact />
                      <span class="muted small room-file-by">
                        <bdi>{people.nameOf(file.uploaderId)}</bdi> · {relativeTime(file.createdAt)}
                      </span>
                    </li>
                  )}
                </For>
              </ul>
            </Show>
            <Show when={next()}>
              {(token) => (
                <button type="button" class="button small room-files-more" disabled={state() === "more"} onClick={() => void load(token())}>
                  {state() === "more" ? "Loading…" : "Load more"}
                </button>
              )}
            </Show>
          </Show>
        </Show>
      </Show>
    </aside>
  );
}

function GridImage(props: { file: FileInfo; label: string; onOpen(): void }) {
  const url = createSignedUrl(() => props.file.id, props.file.thumbnail ? "thumbnail" : "original");
  return (
    <button type="button" class="room-files-image" aria-label={`Open image ${props.label}`} title={props.file.name} data-testid="room-file-image" onClick={() => props.onOpen()}>
      <Show when={url()}>
        <img src={url()} alt="" loading="lazy" decoding="async" draggable={false} onError={() => url.renew()} />
      </Show>
    </button>
  );
}
