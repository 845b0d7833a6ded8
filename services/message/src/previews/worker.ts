// Makes the previews of the messages that asked for them. A send (or an edit that changes the
// links) writes a link_preview_jobs row in its own transaction and, after the commit, puts the
// message in this in-process queue (a few at a time); a periodic sweep picks up the rows a crash
// or a full queue left behind. Storing previews is a change of the message like a reaction: in one
// transaction the message row is locked, its previews replaced, and it takes the room's next stream
// position; after the commit it goes out as messageEdited (edit_time unchanged).
import { EventEmitter } from "node:events";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { MessageSchema } from "@parley/proto/message/v1/message_pb";
import { publishCommitted, type Broker, type Logger } from "@parley/kit";
import type { MessageDb } from "../db.js";
import type { Message } from "../entities.js";
import { MessageGone } from "../repositories.js";
import type { LinkPreviewFetcher } from "./fetcher.js";
import type { LinkImages } from "./link-images.js";
import { previewLinks } from "./links.js";
import type { StoredPreview } from "./repository.js";

export interface LinkPreviewWorkerSettings {
  /** LINK_PREVIEW_MAX_PER_MESSAGE. */
  maxPerMessage: number;
  /** LINK_PREVIEW_CACHE_SECONDS; a failure is cached for a tenth of it, at most 10 minutes. */
  cacheSeconds: number;
  /** LINK_PREVIEW_TIMEOUT_MS: bounds how long a claim on a message must last. */
  timeoutMs: number;
  /** Messages fetched at once (default 4). */
  concurrency?: number;
  /** How often the sweep looks for requests left behind (default 60 s). */
  sweepMs?: number;
  /** A request younger than this is left to the queue of the replica that took it (default 5 s). */
  sweepGraceMs?: number;
}

/** What became of one message's request (the tests' marker, and logs). */
export interface PreviewSettlement {
  messageId: string;
  /** stored: its previews changed (a new stream position); unchanged; skipped: deleted, gone, or another worker had it. */
  outcome: "stored" | "unchanged" | "skipped" | "failed";
  previews: number;
}

type MessageBuilder = (message: Message) => Promise<MessageInitShape<typeof MessageSchema> & { change: bigint }>;

const QUEUE_LIMIT = 1000;
const SETTLED_KEPT = 1000;

export class LinkPreviewWorker {
  readonly events = new EventEmitter<{ settled: [PreviewSettlement] }>();
  private readonly queue: string[] = [];
  /** In the queue. */
  private readonly queued = new Set<string>();
  /** Being made now; `rerun`: asked again meanwhile (an edit), to be made once more right after. */
  private readonly active = new Set<string>();
  private readonly rerun = new Set<string>();
  private sweeper: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly idle = new Set<() => void>();
  private readonly settled = new Map<string, PreviewSettlement>();

  constructor(
    private readonly deps: {
      db: MessageDb;
      broker: Broker;
      log: Logger;
      fetcher: LinkPreviewFetcher;
      settings: LinkPreviewWorkerSettings;
      /** The re-hosted images, for the sweep to remove those no message shows. */
      images?: LinkImages;
    },
    /** How a stored message goes out (the service's one mapping, with reactions and previews). */
    private readonly build: MessageBuilder,
  ) {}

  /** The links of `body` that get previews (the same rule the send and the edit mark by). */
  linksOf(body: string): string[] {
    return previewLinks(body, this.deps.settings.maxPerMessage);
  }

  /** After the commit that asked for its previews. */
  enqueue(messageId: string): void {
    if (this.stopped) return;
    this.settled.delete(messageId);
    if (this.active.has(messageId)) return void this.rerun.add(messageId);
    if (this.queued.has(messageId) || this.queue.length >= QUEUE_LIMIT) return; // the sweep finds the rest
    this.queued.add(messageId);
    this.queue.push(messageId);
    this.pump();
  }

  /** Starts the sweep (at once: requests a crash left behind, then every sweepMs). */
  start(): void {
    const sweepMs = this.deps.settings.sweepMs ?? 60_000;
    void this.sweep();
    this.sweeper = setInterval(() => void this.sweep(), sweepMs);
    this.sweeper.unref();
  }

  /** Stops taking work and waits for the messages in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.queue.length = 0;
    this.queued.clear();
    this.rerun.clear();
    if (this.active.size > 0) await new Promise<void>((resolve) => this.idle.add(resolve));
    this.deps.fetcher.close();
  }

  /** Resolves when the message's request has been dealt with (now, if it already was since it was last queued). */
  whenSettled(messageId: string): Promise<PreviewSettlement> {
    const done = this.settled.get(messageId);
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => {
      const listener = (settlement: PreviewSettlement) => {
        if (settlement.messageId !== messageId) return;
        this.events.off("settled", listener);
        resolve(settlement);
      };
      this.events.on("settled", listener);
    });
  }

  /**
   * Queues the requests older than a few seconds that no worker holds; drops expired cache entries;
   * removes the images no message shows that no preview took for twice the cache time (plus an
   * hour), so that a cached preview never points at a removed image.
   */
  async sweep(): Promise<void> {
    try {
      const { previews } = this.deps.db.fork();
      const waiting = await previews.waiting(new Date(Date.now() - (this.deps.settings.sweepGraceMs ?? 5_000)), 100);
      for (const messageId of waiting) this.enqueue(messageId);
      await previews.dropExpiredCache(1000);
      await this.deps.images?.removeUnused(2 * this.deps.settings.cacheSeconds + 3600);
    } catch (error) {
      this.deps.log.warn({ err: error }, "link previews: sweep failed");
    }
  }

  private pump(): void {
    const concurrency = this.deps.settings.concurrency ?? 4;
    while (this.active.size < concurrency && this.queue.length > 0) {
      const messageId = this.queue.shift()!;
      this.queued.delete(messageId);
      this.active.add(messageId);
      void this.process(messageId)
        .catch((error: unknown): PreviewSettlement => {
          this.deps.log.warn({ err: error, messageId }, "link previews: could not make the previews of a message (the sweep retries)");
          return { messageId, outcome: "failed", previews: 0 };
        })
        .then((settlement) => {
          this.active.delete(messageId);
          // Asked again while this run read the older text: that request is the one to answer.
          if (this.rerun.delete(messageId)) this.enqueue(messageId);
          else this.settle(settlement);
          if (this.active.size === 0) for (const resolve of this.idle) resolve();
          if (!this.stopped) this.pump();
        });
    }
  }

  private settle(settlement: PreviewSettlement): void {
    this.settled.set(settlement.messageId, settlement);
    if (this.settled.size > SETTLED_KEPT) this.settled.delete(this.settled.keys().next().value!);
    this.events.emit("settled", settlement);
  }

  private async process(messageId: string): Promise<PreviewSettlement> {
    const { db, settings } = this.deps;
    const unit = db.fork();
    // Long enough for every fetch of the message (page, oEmbed, image per link) to time out once.
    const claimSeconds = Math.ceil((settings.timeoutMs * 3 * Math.max(1, settings.maxPerMessage)) / 1000) + 30;
    const wantedAt = await unit.previews.claim(messageId, claimSeconds);
    if (!wantedAt) return { messageId, outcome: "skipped", previews: 0 };
    const message = await unit.messages.findById(messageId);
    if (!message || message.deletedAt) {
      await unit.previews.finish(messageId, wantedAt);
      return { messageId, outcome: "skipped", previews: 0 };
    }
    const removed = new Set(await unit.previews.removedUrls(messageId));
    const links = this.linksOf(message.body).filter((url) => !removed.has(url));
    const previews: StoredPreview[] = [];
    for (const url of links) {
      const preview = await this.previewOf(url);
      if (preview) previews.push({ url, ...preview });
    }
    let stored: Message | null = null;
    try {
      stored = await db.transactional(async (tx) => {
        const change = await tx.messages.changeWith(messageId, async (locked) => {
          // Edited meanwhile: that edit asked again (a newer request); this one's previews are stale.
          if (locked.body !== message.body) return false;
          // Taken off meanwhile (RemoveLinkPreview): stays off.
          const removedNow = new Set(await tx.previews.removedUrls(messageId));
          return tx.previews.replacePreviews(messageId, previews.filter((p) => !removedNow.has(p.url)));
        });
        await tx.previews.finish(messageId, wantedAt);
        return change.changed ? change.message : null;
      });
    } catch (error) {
      if (!(error instanceof MessageGone)) throw error;
      await db.fork().previews.finish(messageId, wantedAt);
      return { messageId, outcome: "skipped", previews: 0 };
    }
    if (stored) {
      const edited = await this.build(stored);
      publishCommitted(this.deps.broker, this.deps.log, { roomId: stored.roomId, payload: { case: "messageEdited", value: { message: edited } }, change: edited.change });
    }
    return { messageId, outcome: stored ? "stored" : "unchanged", previews: previews.length };
  }

  /** The URL's preview from the cache, or fetched and cached (a failure for less long). */
  private async previewOf(url: string): Promise<Omit<StoredPreview, "url"> | null> {
    const { previews } = this.deps.db.fork();
    const cached = await previews.cached(url);
    if (cached !== undefined) return cached;
    const outcome = await this.deps.fetcher.preview(url);
    const { cacheSeconds } = this.deps.settings;
    if (outcome.preview) {
      await previews.cache(url, outcome.preview, null, cacheSeconds);
      return outcome.preview;
    }
    this.deps.log.info({ url, refused: outcome.refused, why: outcome.failure }, "link preview: none");
    await previews.cache(url, null, outcome.failure, Math.min(Math.ceil(cacheSeconds / 10), 600));
    return null;
  }
}
