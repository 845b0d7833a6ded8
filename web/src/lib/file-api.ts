// The app's calls about files (issue 19), in one place: uploads (the @parley/client helper over
// POST /api/v1/rooms/{roomId}/files, with progress and abort), the one signed-URL cache
// (files.signUrls), deleting an upload taken out of the composer, link preview images and
// removing a preview. Components read URLs through createSignedUrl, which asks again when one
// is about to expire.
import { createEffect, createSignal, untrack, type Accessor } from "solid-js";
import { uploadFile } from "@parley/client";
import { api, errorMessage } from "./api";
import { accessToken } from "./session";
import { createSignedUrlCache, type FileVariant, type SignedUrlCache } from "./signed-urls";
import { humanSize } from "./files";
import { createAttachmentTray, imagePreview, type AttachmentTray, type UploadFile } from "./attachment-tray";
import { notify } from "./notify";
import type { FileInfo } from "./types";

export const signedUrls: SignedUrlCache = createSignedUrlCache({
  sign: async (fileIds, variant) => {
    const answer = await api.files.signUrls.mutate({ fileIds, variant });
    return answer.urls.map((u) => ({ fileId: u.fileId, url: u.url, expiresAt: Date.parse(u.expiresAt) }));
  },
});

/** A signed URL as a signal, and a way to ask for a fresh one (an <img> or a player whose URL ran out). */
export type SignedUrlSignal = Accessor<string | undefined> & { renew(): void };

/**
 * A file's signed URL as a signal: undefined until signed (or when the file cannot be read). It is
 * not renewed on a timer: a loaded image needs no new URL. An element that fails to load (its URL
 * expired before it was scrolled to) calls renew(), which signs again only if the cached one is
 * stale; a file that is gone (its message deleted) then turns undefined.
 */
export function createSignedUrl(fileId: Accessor<string | undefined>, variant: FileVariant = "original"): SignedUrlSignal {
  const [url, setUrl] = createSignal<string | undefined>();
  const load = (id: string) =>
    signedUrls.get(id, variant).then(
      (signed) => {
        if (fileId() === id) setUrl(signed);
      },
      () => undefined,
    );
  createEffect(() => {
    const id = fileId();
    setUrl(id ? signedUrls.peek(id, variant) : undefined);
    if (id && !untrack(url)) void load(id);
  });
  return Object.assign(url, {
    renew() {
      const id = fileId();
      if (id && signedUrls.peek(id, variant) !== url()) void load(id);
    },
  });
}

/** Downloads a file by a fresh signed URL (a link whose URL ran out is not followed). */
export async function downloadFile(file: Pick<FileInfo, "id" | "name">): Promise<void> {
  const url = await signedUrls.get(file.id, "original");
  if (!url) throw new Error("This file is no longer available.");
  const link = document.createElement("a");
  link.href = url;
  link.download = file.name;
  link.rel = "noopener";
  document.body.append(link);
  link.click();
  link.remove();
}

export async function deleteUpload(fileId: string): Promise<void> {
  await api.files.deleteUpload.mutate({ fileId });
}

export async function removeLinkPreview(messageId: string, url: string): Promise<void> {
  await api.messages.removeLinkPreview.mutate({ id: messageId, url });
}

/** An upload into a room (@parley/client's uploadFile): the file's bytes, streamed by the browser, with progress and abort. */
export function uploaderFor(roomId: string): UploadFile {
  return async (file, options) =>
    uploadFile({
      roomId,
      file,
      token: await accessToken(),
      signal: options.signal,
      // What was sent includes the multipart envelope around the file: counted against the file's size.
      onProgress: ({ loaded }) => options.onProgress({ loaded: Math.min(loaded, file.size), total: file.size }),
    });
}

/**
 * Why an upload failed, for the tray: too large (with the limit), over the quota, cancelled, or
 * the server's own words. The limit is in the server's message ("at most 52428800 bytes"): it is
 * the one place that knows it, so it is read from there and shown as people read sizes.
 */
export function uploadErrorText(error: unknown): string {
  const failure = error as { status?: number; code?: string; limit?: string; message?: string } | undefined;
  const bytes = (pattern: RegExp) => {
    const match = pattern.exec(failure?.message ?? "");
    return match ? humanSize(Number(match[1])) : undefined;
  };
  if (failure?.limit === "quota") {
    const quota = bytes(/quota of (\d+) bytes/);
    return quota ? `Over your storage quota (${quota}): delete some files first.` : "Over your storage quota: delete some files first.";
  }
  if (failure?.status === 413 || failure?.limit === "file-size") {
    const limit = bytes(/at most (\d+) bytes/);
    return limit ? `Too large: files can be at most ${limit}.` : "Too large for this server.";
  }
  if (failure?.code === "ABORTED") return "Cancelled.";
  if (failure?.code === "NETWORK" || failure?.status === 0) return "Cannot reach the server. Check your connection.";
  if (failure?.status === 429) return "Too many uploads. Please wait a moment and try again.";
  const message = failure?.message || errorMessage(error);
  return message.charAt(0).toUpperCase() + message.slice(1);
}

/** Each composer's tray (a room's, a thread's), kept while the app is open, like its draft. */
const trays = new Map<string, AttachmentTray>();

export function trayFor(key: string, roomId: string): AttachmentTray {
  let tray = trays.get(key);
  if (!tray) {
    tray = createAttachmentTray({ upload: uploaderFor(roomId), deleteUpload, describeError: uploadErrorText, notify, preview: imagePreview });
    trays.set(key, tray);
  }
  return tray;
}
