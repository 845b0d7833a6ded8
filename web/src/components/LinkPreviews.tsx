// The previews of a message's links (issue 19), under it: the site, the title as the link, the
// description and the page's image, re-hosted by the server (members' browsers never call the
// third party). All of it is plain text from the page, rendered as text. The sender may take a
// preview off (×): the message changes for everyone through the stream.
import { For, Show } from "solid-js";
import { fitWithin } from "../lib/files";
import type { LinkPreview } from "../lib/types";
import { Icon } from "./Icon";
import "./Files.css";

export function LinkPreviews(props: { previews: readonly LinkPreview[]; onRemove?: (preview: LinkPreview) => void }) {
  return (
    <div class="link-previews">
      <For each={props.previews}>
        {(preview) => {
          const host = () => {
            try {
              return new URL(preview.url).host;
            } catch {
              return "";
            }
          };
          const box = () => fitWithin(preview.image?.width ?? 0, preview.image?.height ?? 0, 120, 90);
          return (
            <div class="link-preview" data-testid="link-preview" data-url={preview.url}>
              <div class="link-preview-text">
                <span class="link-preview-site muted small" dir="auto">
                  {preview.siteName || host()}
                </span>
                <a class="link-preview-title" href={preview.url} target="_blank" rel="noopener noreferrer nofollow ugc" dir="auto" data-testid="link-preview-title">
                  {preview.title}
                </a>
                <Show when={preview.description}>
                  <p class="link-preview-description" dir="auto">
                    {preview.description}
                  </p>
                </Show>
              </div>
              <Show when={preview.image}>
                {(image) => (
                  <img
                    class="link-preview-image"
                    src={image().url}
                    alt=""
                    width={box().width}
                    height={box().height}
                    loading="lazy"
                    decoding="async"
                    referrerpolicy="no-referrer"
                  />
                )}
              </Show>
              <Show when={props.onRemove}>
                <button
                  type="button"
                  class="icon-button link-preview-remove"
                  aria-label={`Remove the preview of ${host() || preview.url}`}
                  title="Remove preview"
                  data-testid="link-preview-remove"
                  onClick={() => props.onRemove!(preview)}
                >
                  <Icon name="close" size={14} />
                </button>
              </Show>
            </div>
          );
        }}
      </For>
    </div>
  );
}
