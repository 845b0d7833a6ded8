// The files sweeper (issue 19): the storage never holds a file no message points to for long.
// Every FILES_SWEEP_SECONDS (and once at start) it removes: the files whose removal is due (a
// deleted message's, after FILES_DELETE_GRACE_SECONDS), uploads no message took within
// FILES_UNATTACHED_TTL_SECONDS, stored objects no row points to (a crash between storing the
// bytes and inserting the row) and temporary files of uploads that never ended, both once an hour
// old (younger ones may be an upload in progress, on this replica or another). Every step is
// idempotent, so replicas sweeping at once only repeat each other's work.
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@parley/kit";
import type { MessageDb } from "../db.js";
import { storageKeys, type FilesConfig } from "./config.js";

/** An object or temporary file younger than this may belong to an upload in progress. */
export const ORPHAN_AGE_MS = 60 * 60 * 1000;
const BATCH = 500;
const PREFIXES = ["files/", "thumbnails/"];

export interface SweepResult {
  /** Files removed (row and bytes): due after a delete, or unattached too long. */
  removed: number;
  /** Stored objects no row pointed to. */
  orphans: number;
  /** Temporary files of uploads that never ended. */
  tempFiles: number;
}

export class FileSweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly db: MessageDb,
    private readonly config: Pick<FilesConfig, "storage" | "tempDir" | "unattachedTtlSeconds">,
    private readonly log: Logger,
  ) {}

  /** Sweeps now and then every `intervalSeconds` (0: only now). */
  start(intervalSeconds: number): void {
    this.runInBackground();
    if (intervalSeconds > 0) {
      this.timer = setInterval(() => this.runInBackground(), intervalSeconds * 1000);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => {});
  }

  private runInBackground(): void {
    if (this.running) return;
    this.running = this.sweep()
      .then((result) => {
        if (result.removed + result.orphans + result.tempFiles > 0) this.log.info(result, "files swept");
      })
      .catch((error: unknown) => this.log.error({ err: error }, "files sweep failed (tried again at the next)"))
      .finally(() => (this.running = undefined));
  }

  /** One sweep as of `now` (tests pass a later time instead of waiting). */
  async sweep(now = new Date()): Promise<SweepResult> {
    const result: SweepResult = { removed: 0, orphans: 0, tempFiles: 0 };
    const unattachedBefore = new Date(now.getTime() - this.config.unattachedTtlSeconds * 1000);
    for (;;) {
      const ids = await this.db.fork().files.dueForRemoval(now, unattachedBefore, BATCH);
      if (ids.length === 0) break;
      // The bytes first: a failure leaves the row, and the next sweep tries again.
      for (const id of ids) {
        await this.config.storage.delete(storageKeys.original(id));
        await this.config.storage.delete(storageKeys.thumbnail(id));
      }
      await this.db.fork().files.deleteRows(ids);
      result.removed += ids.length;
      if (ids.length < BATCH) break;
    }
    const oldBefore = now.getTime() - ORPHAN_AGE_MS;
    for (const prefix of PREFIXES) {
      let batch: { key: string; id: string }[] = [];
      const flush = async () => {
        const known = await this.db.fork().files.existing(batch.map((b) => b.id).filter(isUuid));
        for (const { key, id } of batch) {
          if (known.has(id)) continue;
          await this.config.storage.delete(key);
          result.orphans++;
        }
        batch = [];
      };
      for await (const object of this.config.storage.list(prefix)) {
        if (object.modified.getTime() >= oldBefore) continue;
        batch.push({ key: object.key, id: object.key.slice(object.key.lastIndexOf("/") + 1) });
        if (batch.length >= BATCH) await flush();
      }
      if (batch.length > 0) await flush();
    }
    result.tempFiles = await this.sweepTempDir(oldBefore);
    return result;
  }

  private async sweepTempDir(oldBefore: number): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.config.tempDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw error;
    }
    let removed = 0;
    for (const name of names) {
      const path = join(this.config.tempDir, name);
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile() || info.mtimeMs >= oldBefore) continue;
      await rm(path, { force: true });
      removed++;
    }
    return removed;
  }
}

const isUuid = (value: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
