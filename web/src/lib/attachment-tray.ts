// The composer's pending attachments (issue 19), without the framework: each file added starts
// uploading at once (the bytes go while the person writes), shows its progress, and ends done (a
// file id for the send) or failed (why: too large, over the quota, the network). Removing one
// that is uploading aborts it; removing a finished one deletes the upload on the server (an
// unattached file would otherwise wait out its time to live); after a send, the tray is cleared
// without deleting (the message has them now). Send waits while anything uploads.
import type { FileInfo } from "./types";

/** At most this many files per message (SendMessageRequest.file_ids). */
export const MAX_FILES_PER_MESSAGE = 10;

export interface UploadProgress {
  loaded: number;
  total: number;
}

export type UploadFile = (file: File, options: { signal: AbortSignal; onProgress(progress: UploadProgress): void }) => Promise<FileInfo>;
export type DeleteUpload = (fileId: string) => Promise<void>;

export interface TrayItem {
  key: string;
  name: string;
  size: number;
  /** What the browser says it is (for the icon while uploading; the server sniffs its own). */
  type: string;
  status: "uploading" | "done" | "failed";
  loaded: number;
  /** Once done: the stored file. */
  file?: FileInfo;
  error?: string;
  /** A data: URL of a small image, shown while it uploads. */
  preview?: string;
}

export interface AttachmentTray {
  items(): readonly TrayItem[];
  /** Adds files (beyond MAX_FILES_PER_MESSAGE they are refused with a note). */
  add(files: readonly File[]): void;
  /** Cancels an upload, deletes a finished one, or drops a failed one. */
  remove(key: string): void;
  /** Tries a failed upload again. */
  retry(key: string): void;
  /** Whether an upload is still running (Send waits). */
  uploading(): boolean;
  /** The finished files, in the order added (what a send attaches). */
  ready(): FileInfo[];
  /** After a send: empties the tray, keeping the uploads (the message has them); failed ones are dropped. */
  clear(): void;
  /** Empties the tray, cancelling and deleting everything (the composer goes away with the tray unsent). */
  discard(): void;
  /** Calls `listener` after every change. */
  subscribe(listener: () => void): () => void;
}

export function createAttachmentTray(deps: {
  upload: UploadFile;
  deleteUpload: DeleteUpload;
  /** A message for a failed upload. */
  describeError: (error: unknown) => string;
  /** Told of what could not even start (too many files). */
  notify?: (text: string) => void;
  /** A preview for an image file (a data: URL), or nothing. */
  preview?: (file: File) => Promise<string | undefined>;
}): AttachmentTray {
  let items: TrayItem[] = [];
  let counter = 0;
  const listeners = new Set<() => void>();
  const files = new Map<string, File>();
  const aborts = new Map<string, AbortController>();

  const changed = () => {
    for (const listener of listeners) listener();
  };
  const patch = (key: string, change: Partial<TrayItem>) => {
    let found = false;
    items = items.map((item) => {
      if (item.key !== key) return item;
      found = true;
      return { ...item, ...change };
    });
    if (found) changed();
  };

  function start(key: string): void {
    const file = files.get(key);
    if (!file) return;
    const abort = new AbortController();
    aborts.set(key, abort);
    patch(key, { status: "uploading", loaded: 0, error: undefined });
    deps
      .upload(file, {
        signal: abort.signal,
        onProgress: ({ loaded }) => {
          if (!abort.signal.aborted) patch(key, { loaded });
        },
      })
      .then(
        (stored) => {
          aborts.delete(key);
          if (abort.signal.aborted) {
            // Removed while the last bytes went: the server has it, unwanted.
            void deps.deleteUpload(stored.id).catch(() => undefined);
            return;
          }
          files.delete(key);
          patch(key, { status: "done", loaded: file.size, file: stored });
        },
        (error: unknown) => {
          aborts.delete(key);
          if (abort.signal.aborted) return;
          patch(key, { status: "failed", error: deps.describeError(error) });
        },
      );
  }

  return {
    items: () => items,
    add(added) {
      const room = MAX_FILES_PER_MESSAGE - items.length;
      const taken = added.slice(0, Math.max(0, room));
      if (added.length > taken.length) deps.notify?.(`At most ${MAX_FILES_PER_MESSAGE} files per message.`);
      for (const file of taken) {
        const key = `attachment-${++counter}`;
        files.set(key, file);
        items = [...items, { key, name: file.name, size: file.size, type: file.type, status: "uploading", loaded: 0 }];
        changed();
        start(key);
        void deps.preview?.(file).then((url) => {
          if (url) patch(key, { preview: url });
        });
      }
    },
    remove(key) {
      const item = items.find((i) => i.key === key);
      if (!item) return;
      items = items.filter((i) => i.key !== key);
      files.delete(key);
      aborts.get(key)?.abort();
      aborts.delete(key);
      if (item.status === "done" && item.file) void deps.deleteUpload(item.file.id).catch(() => undefined);
      changed();
    },
    retry(key) {
      if (items.find((i) => i.key === key)?.status === "failed") start(key);
    },
    uploading: () => items.some((i) => i.status === "uploading"),
    ready: () => items.flatMap((i) => (i.status === "done" && i.file ? [i.file] : [])),
    clear() {
      // Nothing uploads now (Send waits for that); failed ones go with the rest.
      items = [];
      files.clear();
      changed();
    },
    discard() {
      for (const item of items) this.remove(item.key);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** A data: URL for a small image (the page's CSP allows data: images, not blob:), to show while it uploads. */
export function imagePreview(file: File, maxBytes = 8 * 1024 * 1024): Promise<string | undefined> {
  if (!/^image\/(png|jpeg|gif|webp|avif)$/.test(file.type) || file.size > maxBytes) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(typeof reader.result === "string" ? reader.result : undefined);
    reader.onerror = () => resolve(undefined);
    reader.readAsDataURL(file);
  });
}
