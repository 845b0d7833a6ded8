// Files over HTTP (issue 19): uploadFile sends one file to a room (POST /api/v1/rooms/{roomId}/files)
// with progress and cancel, in browsers (XMLHttpRequest: fetch has no upload progress there) and in
// Node (fetch with a streamed multipart body). The file is streamed from its Blob, never copied whole.
// Then send the message with its id: LiveClient.send(roomId, body, { fileIds }) or messages.send.
// fileJsonOf / linkPreviewJsonOf turn the contract's File and LinkPreview (socket frames) into the
// API's JSON: the edge's answers and the web app's socket messages use the same two functions.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { FileDisplay, type File } from "@parley/proto/file/v1/file_pb";
import type { LinkPreview } from "@parley/proto/message/v1/message_pb";

/** How a file is shown (the server decides from its sniffed type): inline image, player, or a card to download. */
export type FileDisplayName = "image" | "video" | "audio" | "download";

/** A file as the REST and tRPC API give it (the edge's FileOut). */
export interface FileJson {
  id: string;
  roomId: string;
  uploaderId: string;
  /** null while unattached (uploaded, not sent yet). */
  messageId: string | null;
  name: string;
  size: number;
  /** Sniffed from the bytes by the server. */
  mediaType: string;
  display: FileDisplayName;
  width: number | null;
  height: number | null;
  animated: boolean;
  thumbnail: { width: number; height: number } | null;
  createdAt: string;
}

/** A link preview as the API gives it; `image.url` is the re-hosted image (no third party called). */
export interface LinkPreviewJson {
  url: string;
  title: string;
  description: string;
  siteName: string;
  image: { url: string; width: number; height: number } | null;
}

const DISPLAY_NAMES: Record<FileDisplay, FileDisplayName> = {
  [FileDisplay.UNSPECIFIED]: "download",
  [FileDisplay.IMAGE]: "image",
  [FileDisplay.VIDEO]: "video",
  [FileDisplay.AUDIO]: "audio",
  [FileDisplay.DOWNLOAD]: "download",
};

/** A file's public fields: never its storage key; its SHA-256 only as the ETag of a download. */
export function fileJsonOf(file: File): FileJson {
  return {
    id: file.id,
    roomId: file.roomId,
    uploaderId: file.uploaderId,
    messageId: file.messageId || null,
    name: file.name,
    size: Number(file.size),
    mediaType: file.mediaType,
    display: DISPLAY_NAMES[file.display] ?? "download",
    width: file.width || null,
    height: file.height || null,
    animated: file.animated,
    thumbnail: file.hasThumbnail ? { width: file.thumbnailWidth, height: file.thumbnailHeight } : null,
    createdAt: file.createTime ? timestampDate(file.createTime).toISOString() : "",
  };
}

/** The path a browser loads a link preview's re-hosted image from (no sign-in: the id is the capability). */
export function linkImagePath(imageId: string): string {
  return `/api/v1/link-images/${encodeURIComponent(imageId)}`;
}

export function linkPreviewJsonOf(p: LinkPreview): LinkPreviewJson {
  return {
    url: p.url,
    title: p.title,
    description: p.description,
    siteName: p.siteName,
    image: p.imageId ? { url: linkImagePath(p.imageId), width: p.imageWidth, height: p.imageHeight } : null,
  };
}

/** The header that declares an upload's size (the server refuses a size over its limit before reading the body). */
export const FILE_SIZE_HEADER = "X-File-Size";

export interface UploadProgress {
  /** Bytes of the request body sent so far (the file and its small multipart envelope), as XMLHttpRequest counts them. */
  loaded: number;
  total: number;
}

export interface UploadFileOptions {
  /** The API's origin, e.g. "https://chat.example.com"; "" (the default) for the page's own origin. */
  baseUrl?: string;
  roomId: string;
  /** A File (its name is used) or any Blob (give `name`). */
  file: Blob;
  /** The name to store it under; default: the File's name. */
  name?: string;
  /** The access token (Authorization: Bearer). */
  token: string;
  onProgress?: (progress: UploadProgress) => void;
  /** Aborting cancels the upload: the server stores nothing. */
  signal?: AbortSignal;
}

/** A refused upload: the HTTP status and the API's error body (code, message, field, limit). */
export class UploadError extends Error {
  override name = "UploadError";
  constructor(
    readonly status: number,
    /** The API's error code (PAYLOAD_TOO_LARGE, NOT_FOUND...), "ABORTED" after the signal, "NETWORK" when no answer came. */
    readonly code: string,
    message: string,
    /** For 413: "file-size" (over the server's limit) or "quota" (over your storage quota). */
    readonly limit?: "file-size" | "quota",
    readonly field?: string,
    /** For 429: when to try again. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Uploads one file to a room; resolves to the stored file (unattached until a message takes it). */
export async function uploadFile(options: UploadFileOptions): Promise<FileJson> {
  const name = options.name ?? (options.file as Blob & { name?: string }).name ?? "file";
  const url = `${options.baseUrl ?? ""}/api/v1/rooms/${encodeURIComponent(options.roomId)}/files`;
  if (options.signal?.aborted) throw aborted();
  const Xhr = (globalThis as { XMLHttpRequest?: XhrConstructor }).XMLHttpRequest;
  if (Xhr) return uploadWithXhr(Xhr, url, name, options);
  return uploadWithFetch(url, name, options);
}

function aborted(): UploadError {
  return new UploadError(0, "ABORTED", "the upload was cancelled");
}

function refusal(status: number, text: string): UploadError {
  let error: { code?: string; message?: string; field?: string; limit?: "file-size" | "quota"; retryAfterSeconds?: number } = {};
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
  } catch {
    // Not the API's JSON (a proxy's page): the status says enough.
  }
  return new UploadError(status, error.code ?? `HTTP_${status}`, error.message ?? `upload failed with HTTP ${status}`, error.limit, error.field, error.retryAfterSeconds);
}

/** The part of the browsers' XMLHttpRequest used here (the library is typed without the DOM). */
interface XhrLike {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: FormData): void;
  abort(): void;
  readonly status: number;
  readonly responseText: string;
  upload: { onprogress: ((event: { loaded: number; total: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}
type XhrConstructor = new () => XhrLike;

function uploadWithXhr(Xhr: XhrConstructor, url: string, name: string, options: UploadFileOptions): Promise<FileJson> {
  return new Promise((resolve, reject) => {
    const xhr = new Xhr();
    const form = new FormData();
    form.append("file", options.file, name);
    const onAbort = () => xhr.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => options.signal?.removeEventListener("abort", onAbort);
    xhr.open("POST", url);
    xhr.setRequestHeader("Authorization", `Bearer ${options.token}`);
    xhr.setRequestHeader(FILE_SIZE_HEADER, String(options.file.size));
    xhr.upload.onprogress = (event) => options.onProgress?.({ loaded: event.loaded, total: event.total });
    xhr.onload = () => {
      done();
      if (xhr.status === 201) resolve(JSON.parse(xhr.responseText) as FileJson);
      else reject(refusal(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => {
      done();
      reject(new UploadError(0, "NETWORK", "the upload did not reach the server"));
    };
    xhr.onabort = () => {
      done();
      reject(aborted());
    };
    xhr.send(form);
  });
}

/** The multipart body around the file, streamed: the envelope, then the Blob's own stream, counted as it is read. */
function multipartBody(file: Blob, name: string, onSent: (sent: number) => void): { body: ReadableStream<Uint8Array>; contentType: string; length: number } {
  const boundary = `----parley${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
  const quoted = name.replace(/[\r\n"\\]/g, "_");
  const encoder = new TextEncoder();
  const head = encoder.encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${quoted}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  const parts: (() => ReadableStream<Uint8Array> | Uint8Array)[] = [() => head, () => file.stream(), () => tail];
  let sent = 0;
  let index = 0;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        if (reader) {
          const { done, value } = await reader.read();
          if (!done) {
            sent += value.byteLength;
            onSent(sent);
            controller.enqueue(value);
            return;
          }
          reader = undefined;
        }
        const next = parts[index++];
        if (!next) return controller.close();
        const part = next();
        if (part instanceof Uint8Array) {
          sent += part.byteLength;
          onSent(sent);
          controller.enqueue(part);
          return;
        }
        reader = part.getReader();
      }
    },
    cancel(reason) {
      return reader?.cancel(reason);
    },
  });
  return { body, contentType: `multipart/form-data; boundary=${boundary}`, length: head.byteLength + file.size + tail.byteLength };
}

async function uploadWithFetch(url: string, name: string, options: UploadFileOptions): Promise<FileJson> {
  let total = 0;
  const { body, contentType, length } = multipartBody(options.file, name, (loaded) => options.onProgress?.({ loaded, total }));
  total = length;
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${options.token}`, "content-type": contentType, [FILE_SIZE_HEADER]: String(options.file.size), "content-length": String(length) },
      body,
      signal: options.signal,
      // A streamed request body (Node's fetch requires saying so).
      duplex: "half",
    } as RequestInit & { duplex: "half" });
  } catch (error) {
    if (options.signal?.aborted) throw aborted();
    throw new UploadError(0, "NETWORK", `the upload did not reach the server: ${(error as Error).message}`);
  }
  const text = await res.text();
  if (res.status !== 201) throw refusal(res.status, text);
  return JSON.parse(text) as FileJson;
}
