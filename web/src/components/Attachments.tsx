// A message's files (issue 19): images inline (their box sized from the width and height the
// server measured, so nothing jumps as they load; the thumbnail, animated for an animated GIF),
// opened in the lightbox by a click or Enter; video and audio with the browser's players; every
// other file as a card with its type, size and a download link. URLs are signed in batches.
import { For, Show } from "solid-js";
import { createSignedUrl, downloadFile, signedUrls } from "../lib/file-api";
import { fileKind, fileTypeLabel, fitWithin, humanSize } from "../lib/files";
import { notify } from "../lib/notify";
import type { FileInfo } from "../lib/types";
import { Icon } from "./Icon";
import "./Files.css";

export function MessageAttachments(props: { files: readonly FileInfo[]; onOpenImage?: (file: FileInfo) => void }) {
  const images = () => props.files.filter((f) => f.display === "image");
  const others = () => props.files.filter((f) => f.display !== "image");
  return (
    <div class="attachments" data-testid="attachments">
      <Show when={images().length > 0}>
        <div class="attachment-images" classList={{ several: images().length > 1 }}>
          <For each={images()}>{(file) => <InlineImage file={file} max={images().length > 1 ? 200 : 360} onOpen={() => props.onOpenImage?.(file)} />}</For>
        </div>
      </Show>
      <For each={others()}>
        {(file) => (
          <Show when={file.display === "video" || file.display === "audio"} fallback={<FileCard file={file} />}>
            <MediaPlayer file={file} />
          </Show>
        )}
      </For>
    </div>
  );
}

function InlineImage(props: { file: FileInfo; max: number; onOpen: () => void }) {
  // The thumbnail (at most 480 px, animated when the image is) when there is one, else the image.
  const url = createSignedUrl(() => props.file.id, props.file.thumbnail ? "thumbnail" : "original");
  const box = () => fitWithin(props.file.width ?? 0, props.file.height ?? 0, props.max);
  return (
    <button
      type="button"
      class="attachment-image"
      data-testid="attachment-image"
      data-file-id={props.file.id}
      // The width, and the height from the proportions: a phone narrower than the box shrinks both.
      style={{ width: `${box().width}px`, "aspect-ratio": `${box().width} / ${box().height}` }}
      aria-label={`Open image ${props.file.name}`}
      title={props.file.name}
      onClick={() => props.onOpen()}
    >
      {/* The signal itself, not <Show>'s accessor: a URL that goes away must not be a stale read. */}
      <Show when={url()}>
        <img src={url()} alt={props.file.name} width={box().width} height={box().height} decoding="async" loading="lazy" draggable={false} onError={() => url.renew()} />
      </Show>
      <Show when={props.file.animated}>
        <span class="gif-badge" aria-hidden="true">GIF</span>
      </Show>
    </button>
  );
}

function MediaPlayer(props: { file: FileInfo }) {
  const url = createSignedUrl(() => props.file.id);
  const box = () => fitWithin(props.file.width ?? 0, props.file.height ?? 0, 480, 360);
  return (
    <figure class="attachment-media" data-testid="attachment-media">
      <Show
        when={props.file.display === "video"}
        fallback={<audio controls preload="none" src={url()} aria-label={props.file.name} onError={() => url.renew()} />}
      >
        <video
          controls
          preload="metadata"
          src={url()}
          aria-label={props.file.name}
          onError={() => url.renew()}
          style={props.file.width && props.file.height ? { width: `${box().width}px`, "aspect-ratio": `${props.file.width} / ${props.file.height}` } : undefined}
        />
      </Show>
      <figcaption>
        <bdi class="file-name">{props.file.name}</bdi> <span class="muted small">{humanSize(props.file.size)}</span>
        <DownloadButton file={props.file} />
      </figcaption>
    </figure>
  );
}

/** A file that is not shown inline: its type icon, name, size and type, and a download link. */
export function FileCard(props: { file: FileInfo; compact?: boolean }) {
  const kind = () => fileKind(props.file.mediaType, props.file.name);
  return (
    <div class="file-card" classList={{ compact: props.compact }} data-testid="file-card" data-kind={kind()}>
      <span class="file-icon" data-kind={kind()} aria-hidden="true">
        <Icon name="file" size={22} />
        <span class="file-ext">{extensionOf(props.file.name)}</span>
      </span>
      <span class="file-text">
        <bdi class="file-name" title={props.file.name}>
          {props.file.name}
        </bdi>
        <span class="file-meta muted small">
          {humanSize(props.file.size)} · {fileTypeLabel(props.file.mediaType, props.file.name)}
        </span>
      </span>
      <DownloadButton file={props.file} />
    </div>
  );
}

/** A download link by the file's signed URL, signed afresh when it has run out. */
export function DownloadButton(props: { file: FileInfo }) {
  const url = createSignedUrl(() => props.file.id);
  return (
    <a
      class="icon-button file-download"
      href={url() ?? "#"}
      download={props.file.name}
      aria-label={`Download ${props.file.name}`}
      title="Download"
      data-testid="file-download"
      onClick={(event) => {
        // A URL still fresh is followed as it is; a stale one (the page open for a while) is signed afresh first.
        if (url() && signedUrls.peek(props.file.id) === url()) return;
        event.preventDefault();
        downloadFile(props.file).catch((failure: unknown) => notify(failure instanceof Error ? failure.message : "Could not download the file."));
      }}
    >
      <Icon name="download" size={18} />
    </a>
  );
}

function extensionOf(name: string): string {
  return /\.([a-z0-9]{1,4})$/i.exec(name)?.[1]?.toUpperCase() ?? "";
}
