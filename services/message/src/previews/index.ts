// Link previews (issue 19; docs/files.md "Link previews"): the worker as the settings make it.
import type { Broker, Logger, OutboundResolver } from "@parley/kit";
import type { MessageDb } from "../db.js";
import type { MessageEnv } from "../env.js";
import type { FileStorage } from "../files/storage.js";
import { withReactions } from "../service.js";
import { LinkPreviewFetcher } from "./fetcher.js";
import { LinkImages } from "./link-images.js";
import { LinkPreviewWorker, type LinkPreviewWorkerSettings } from "./worker.js";

export { LinkImages } from "./link-images.js";
export { LinkPreviewWorker, type PreviewSettlement } from "./worker.js";
export { previewLinks, normalizeLink } from "./links.js";

type PreviewEnv = Pick<
  MessageEnv,
  | "LINK_PREVIEW_ALLOWED_HOSTS"
  | "LINK_PREVIEW_MAX_PER_MESSAGE"
  | "LINK_PREVIEW_TIMEOUT_MS"
  | "LINK_PREVIEW_MAX_BYTES"
  | "LINK_PREVIEW_IMAGE_MAX_BYTES"
  | "LINK_PREVIEW_CACHE_SECONDS"
>;

export interface LinkPreviewOptions {
  db: MessageDb;
  broker: Broker;
  log: Logger;
  /** Where re-hosted images go; without one, previews have no image. */
  storage?: FileStorage;
  config: PreviewEnv;
  /** DNS, for tests (DNS is outside the system). */
  resolve?: OutboundResolver;
  worker?: Pick<LinkPreviewWorkerSettings, "concurrency" | "sweepMs" | "sweepGraceMs">;
}

/** The link preview worker, started (its sweep running); stop() it before closing the database. */
export function startLinkPreviews(options: LinkPreviewOptions): LinkPreviewWorker {
  const { db, broker, log, config } = options;
  const images = options.storage ? new LinkImages({ db, storage: options.storage }) : undefined;
  const fetcher = new LinkPreviewFetcher(
    {
      allowedHosts: config.LINK_PREVIEW_ALLOWED_HOSTS,
      timeoutMs: config.LINK_PREVIEW_TIMEOUT_MS,
      maxBytes: config.LINK_PREVIEW_MAX_BYTES,
      imageMaxBytes: config.LINK_PREVIEW_IMAGE_MAX_BYTES,
      ...(options.resolve && { resolve: options.resolve }),
    },
    images,
    log,
  );
  const worker = new LinkPreviewWorker(
    {
      db,
      broker,
      log,
      fetcher,
      ...(images && { images }),
      settings: {
        maxPerMessage: config.LINK_PREVIEW_MAX_PER_MESSAGE,
        cacheSeconds: config.LINK_PREVIEW_CACHE_SECONDS,
        timeoutMs: config.LINK_PREVIEW_TIMEOUT_MS,
        ...options.worker,
      },
    },
    async (message) => (await withReactions(db.fork().messages, [message]))[0]!,
  );
  worker.start();
  return worker;
}
