// The preview of one URL: its page fetched under the outbound rules (services/kit/src/outbound.ts:
// http/https, default ports unless allowed, every hop and the connection's address checked), read
// up to LINK_PREVIEW_MAX_BYTES, its metadata parsed (page.ts), its oEmbed document fetched under the
// same rules when the page has no card title or image, and its image re-hosted (link-images.ts).
import {
  createOutboundAgents,
  fetchOutbound,
  OutboundFetchError,
  OutboundRefused,
  type Logger,
  type OutboundAgents,
  type OutboundResolver,
  type OutboundResponse,
  type OutboundRules,
} from "@parley/kit";
import type { LinkImages } from "./link-images.js";
import { MAX_LINK_LENGTH } from "./links.js";
import { decodePage, parseOembed, parsePage } from "./page.js";
import type { StoredPreview } from "./repository.js";

/** How the server presents itself to the pages it reads: what it is and why it asks (no browser, no person). */
export const LINK_PREVIEW_USER_AGENT = "Mozilla/5.0 (compatible; ParleyLinkPreview/1.0; link previews for a Parley chat server)";
/** An oEmbed document is small JSON. */
const OEMBED_MAX_BYTES = 64 * 1024;

export interface LinkFetchSettings {
  /** LINK_PREVIEW_ALLOWED_HOSTS: "host" or "host:port" entries (the kit's syntax). */
  allowedHosts: readonly string[];
  /** LINK_PREVIEW_TIMEOUT_MS: each fetch (page, oEmbed, image) as a whole, redirects included. */
  timeoutMs: number;
  /** LINK_PREVIEW_MAX_BYTES: the page is read up to this and parsed as far as it came. */
  maxBytes: number;
  /** LINK_PREVIEW_IMAGE_MAX_BYTES: a larger image is not re-hosted. */
  imageMaxBytes: number;
  /** DNS, for tests (the kit's default: dns.lookup). */
  resolve?: OutboundResolver;
}

export type PreviewOutcome = { preview: Omit<StoredPreview, "url"> } | { preview: null; failure: string; refused: boolean };

export class LinkPreviewFetcher {
  private readonly rules: OutboundRules;
  private readonly agents: OutboundAgents;

  constructor(
    private readonly settings: LinkFetchSettings,
    private readonly images: LinkImages | undefined,
    private readonly log: Logger,
  ) {
    this.rules = { label: "link", schemes: ["http:", "https:"], allowedHosts: settings.allowedHosts, maxLength: MAX_LINK_LENGTH };
    // No keep-alive: a page is read once, and a pooled socket would outlive the checks of its host.
    this.agents = createOutboundAgents(settings.allowedHosts, { keepAlive: false, label: "link", ...(settings.resolve && { resolve: settings.resolve }) });
  }

  /** The preview `url` gives, or why it gives none (refused: the outbound rules forbade a hop). */
  async preview(url: string): Promise<PreviewOutcome> {
    let page: OutboundResponse;
    try {
      page = await this.get(url, this.settings.maxBytes, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1");
    } catch (error) {
      return failed(error);
    }
    const type = mediaTypeOf(page.headers["content-type"]);
    if (type !== "text/html" && type !== "application/xhtml+xml") return { preview: null, failure: `not an HTML page (${type || "no type"})`, refused: false };
    const meta = parsePage(decodePage(page.body, page.headers["content-type"]), page.url);
    let { title, siteName } = meta;
    let imageUrl = meta.imageUrl;
    if (meta.oembedUrl && (!meta.hasCardTitle || !imageUrl)) {
      try {
        const document = await this.get(meta.oembedUrl, OEMBED_MAX_BYTES, "application/json");
        const oembed = document.truncated ? null : parseOembed(document.body.toString("utf8"), document.url);
        if (oembed) {
          if (!meta.hasCardTitle && oembed.title) title = oembed.title;
          siteName ||= oembed.siteName;
          imageUrl ??= oembed.imageUrl;
        }
      } catch (error) {
        this.log.debug({ url, oembed: meta.oembedUrl, err: (error as Error).message }, "link preview: no oEmbed document");
      }
    }
    if (!title) return { preview: null, failure: "the page has no title", refused: false };
    let image = { imageId: "", imageWidth: 0, imageHeight: 0 };
    if (imageUrl && this.images) {
      try {
        const stored = await this.images.store(imageUrl, (imageUrl) => this.get(imageUrl, this.settings.imageMaxBytes, "image/webp,image/avif,image/png,image/jpeg,image/gif;q=0.9"));
        image = { imageId: stored.id, imageWidth: stored.width, imageHeight: stored.height };
      } catch (error) {
        this.log.debug({ url, image: imageUrl, err: (error as Error).message }, "link preview: image not re-hosted");
      }
    }
    return { preview: { title, description: meta.description, siteName, ...image } };
  }

  private get(url: string, maxBytes: number, accept: string): Promise<OutboundResponse> {
    return fetchOutbound(url, {
      rules: this.rules,
      agents: this.agents,
      maxBytes,
      timeoutMs: this.settings.timeoutMs,
      userAgent: LINK_PREVIEW_USER_AGENT,
      accept,
    });
  }

  close(): void {
    this.agents.destroy();
  }
}

function failed(error: unknown): PreviewOutcome {
  if (error instanceof OutboundRefused) return { preview: null, failure: error.message, refused: true };
  if (error instanceof OutboundFetchError) return { preview: null, failure: error.message, refused: false };
  return { preview: null, failure: (error as Error)?.message ?? String(error), refused: false };
}

function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}
