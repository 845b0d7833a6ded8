// An image at full size (issue 19), over everything: its name, "2 of 5", a download link.
// ← and → (and the buttons, and a swipe on a touch screen) go through the images of the room view;
// Escape or the close button closes it. It is a modal <dialog>, so the page behind is inert and
// focus stays inside; when it closes, focus goes back to the image that opened it.
import { createEffect, createMemo, onCleanup, onMount, Show } from "solid-js";
import { createSignedUrl } from "../lib/file-api";
import { humanSize } from "../lib/files";
import type { FileInfo } from "../lib/types";
import { DownloadButton } from "./Attachments";
import { Icon } from "./Icon";
import "./Files.css";

/** A horizontal move this long (px), mostly sideways, is a swipe. */
const SWIPE_PX = 50;

export function Lightbox(props: { images: readonly FileInfo[]; fileId: string; onShow(fileId: string): void; onClose(): void }) {
  let dialog!: HTMLDialogElement;
  let closeButton!: HTMLButtonElement;
  const opener = document.activeElement as HTMLElement | null;
  const index = createMemo(() => props.images.findIndex((f) => f.id === props.fileId));
  const file = () => props.images[index()];
  // What is shown: the current image, or the last one while an image that went away closes the
  // lightbox (never undefined once shown, so nothing inside reads a value that is gone).
  const shown = createMemo<FileInfo | undefined>((last) => file() ?? last);
  const url = createSignedUrl(() => file()?.id, "original");
  const thumbnail = createSignedUrl(() => (file()?.thumbnail ? file()!.id : undefined), "thumbnail");

  const go = (step: number) => {
    const next = props.images[index() + step];
    if (next) props.onShow(next.id);
  };
  // The image went away (its message deleted): nothing to show.
  createEffect(() => {
    if (index() < 0) props.onClose();
  });
  onMount(() => {
    dialog.showModal();
    closeButton.focus();
  });
  onCleanup(() => {
    if (dialog.open) dialog.close();
    if (opener?.isConnected) opener.focus();
  });

  let swipeFrom: { x: number; y: number } | undefined;
  return (
    <dialog
      ref={dialog}
      class="lightbox"
      aria-label={shown() ? `Image ${shown()!.name}` : "Image"}
      data-testid="lightbox"
      onCancel={(event) => {
        event.preventDefault();
        props.onClose();
      }}
      onKeyDown={(event) => {
        if (event.key === "ArrowLeft") {
          event.preventDefault();
          go(-1);
        } else if (event.key === "ArrowRight") {
          event.preventDefault();
          go(1);
        }
      }}
      onMouseDown={(event) => {
        if (event.target === dialog || (event.target as HTMLElement).classList.contains("lightbox-stage")) props.onClose();
      }}
      onTouchStart={(event) => {
        const touch = event.touches[0];
        swipeFrom = event.touches.length === 1 && touch ? { x: touch.clientX, y: touch.clientY } : undefined;
      }}
      onTouchEnd={(event) => {
        const touch = event.changedTouches[0];
        if (!swipeFrom || !touch) return;
        const dx = touch.clientX - swipeFrom.x;
        const dy = touch.clientY - swipeFrom.y;
        swipeFrom = undefined;
        if (Math.abs(dx) >= SWIPE_PX && Math.abs(dx) > 2 * Math.abs(dy)) go(dx < 0 ? 1 : -1);
      }}
    >
      <Show when={shown()}>
        {(current) => (
          <>
            <header class="lightbox-head">
              <div class="lightbox-title">
                <bdi class="file-name" data-testid="lightbox-name">
                  {current().name}
                </bdi>
                <span class="muted small">
                  {humanSize(current().size)}
                  <Show when={props.images.length > 1}>
                    {" · "}
                    {index() + 1} of {props.images.length}
                  </Show>
                </span>
              </div>
              <DownloadButton file={current()} />
              <button ref={closeButton} type="button" class="icon-button" aria-label="Close" title="Close (Escape)" onClick={() => props.onClose()}>
                <Icon name="close" />
              </button>
            </header>
            <div class="lightbox-stage">
              <button type="button" class="icon-button lightbox-nav prev" aria-label="Previous image" disabled={index() <= 0} onClick={() => go(-1)}>
                <Icon name="left" size={28} />
              </button>
              <img
                class="lightbox-image"
                src={url() ?? thumbnail()}
                alt={current().name}
                width={current().width || undefined}
                height={current().height || undefined}
                style={current().width && current().height ? { "aspect-ratio": `${current().width} / ${current().height}` } : undefined}
                draggable={false}
                onError={() => url.renew()}
              />
              <button
                type="button"
                class="icon-button lightbox-nav next"
                aria-label="Next image"
                disabled={index() >= props.images.length - 1}
                onClick={() => go(1)}
              >
                <Icon name="right" size={28} />
              </button>
            </div>
            <p class="sr-only" aria-live="polite">
              {current().name}, image {index() + 1} of {props.images.length}
            </p>
          </>
        )}
      </Show>
    </dialog>
  );
}
