// The bytes of files (issue 19), over plain HTTP because they are streams, not JSON:
//   POST     /api/v1/rooms/{roomId}/files           multipart upload → FileService.UploadFile (client-streaming)
//   GET|HEAD /api/v1/files/{fileId}/content         → FileService.ReadFile (server-streaming)
//   GET|HEAD /api/v1/files/{fileId}/thumbnail
//   GET|HEAD /api/v1/link-images/{imageId}          → FileService.ReadLinkImage (no sign-in: the id is the capability)
// The edge never holds a file: chunks pass from one socket to the other with backpressure both ways
// (a slow reader pauses the gRPC stream; a slow gRPC stream pauses the request), so the edge's memory
// does not grow with a file's size. A caller that goes away cancels the call.
import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import busboy from "busboy";
import { Code, ConnectError } from "@connectrpc/connect";
import { check, FIELDS } from "@parley/proto/rules";
import { FileDisplay, FileVariant, type FileContentInfo, type UploadFileRequestSchema } from "@parley/proto/file/v1/file_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Logger } from "@parley/kit";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { SEND_BUDGET_WINDOW_MS, sendBudgetKey } from "../send-budget.js";
import type { Context } from "./context.js";
import { EdgeError, fromServiceError } from "./errors.js";
import { enforceLimit } from "./limits.js";
import { REST_PREFIX, sendError, sendJson } from "./rest.js";
import { callOptions } from "./services.js";
import { shapeFile } from "./shapes.js";
import { authenticate } from "./trpc.js";

/** The header that declares an upload's size in bytes (a multipart part's size is not known before it ends). */
export const FILE_SIZE_HEADER = "x-file-size";
/** The multipart envelope around the file: boundaries and the part's headers (a 255-character name, percent-encoded, fits many times). */
export const MULTIPART_ALLOWANCE_BYTES = 64 * 1024;
/** file.proto: every chunk of UploadFile is at most 1 MiB. */
export const UPLOAD_CHUNK_MAX_BYTES = 1024 * 1024;
/**
 * A transfer may take long on a slow link (the RPC's deadline), but may not stall: no byte from an
 * uploading client, or no room in a downloading client's socket, for this long ends it.
 */
export const TRANSFER_DEADLINE_MS = 60 * 60 * 1000;
export const TRANSFER_IDLE_MS = 60_000;
/**
 * Every answer of these routes, errors included: whatever a file holds, a browser that opens it
 * runs nothing of it in our origin (no script, no form, no plugin; images and media of the
 * origin only, for an image or a player opened directly).
 */
export const FILE_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox";
/** How long a browser keeps a link preview's image (immutable bytes under a capability id). */
const LINK_IMAGE_MAX_AGE_SECONDS = 24 * 60 * 60;
/** The query parameters of a signed URL: the token (checked by the service) and its expiry (for Cache-Control only). */
export const TOKEN_PARAM = "token";
export const EXPIRES_PARAM = "expires";

export type VariantName = "original" | "thumbnail";
const VARIANT_SEGMENT: Record<VariantName, string> = { original: "content", thumbnail: "thumbnail" };
const VARIANT_BY_SEGMENT: Record<string, FileVariant> = { content: FileVariant.ORIGINAL, thumbnail: FileVariant.THUMBNAIL };

/** Where a file's bytes are downloaded from. */
export function fileContentPath(fileId: string, variant: VariantName): string {
  return `${REST_PREFIX}/files/${encodeURIComponent(fileId)}/${VARIANT_SEGMENT[variant]}`;
}

/**
 * A URL a browser can load as it is: the token, and when it expires. The expiry only sets how long
 * the browser may cache the answer (never past the token); the service checks the token's own.
 */
export function signedFileUrl(fileId: string, variant: VariantName, token: string, expires: Date): string {
  return `${fileContentPath(fileId, variant)}?${TOKEN_PARAM}=${encodeURIComponent(token)}&${EXPIRES_PARAM}=${Math.floor(expires.getTime() / 1000)}`;
}

/** Cache-Control of a download: revalidate each time with a bearer token; with a signed URL, at most until it expires. */
function downloadCacheControl(signed: boolean, expires: string | null): string {
  if (!signed) return "private, no-cache";
  const seconds = Math.floor(Number(expires) - Date.now() / 1000);
  return Number.isFinite(seconds) && seconds > 0 ? `private, max-age=${seconds}` : "private, no-cache";
}

const UPLOAD_PATH = /^\/rooms\/([^/]+)\/files$/;
const DOWNLOAD_PATH = /^\/files\/([^/]+)\/(content|thumbnail)$/;
const LINK_IMAGE_PATH = /^\/link-images\/([^/]+)$/;

/** Whether a request (its path below /api/v1) is an upload: its body is a file, not JSON (no body limit or body deadline of the JSON routes). */
export function isUpload(method: string | undefined, path: string): boolean {
  return method === "POST" && UPLOAD_PATH.test(path);
}

export interface FileRoutesOptions {
  createContext: (req: IncomingMessage) => Context;
  /** For failures that are ours (a 500): the cause is logged, never sent. */
  log: Logger;
}

/** The file routes: a handler that answers a request of theirs and returns true, or returns false for any other path. */
export function createFileRoutes({ createContext, log }: FileRoutesOptions) {
  return async function handleFileRoute(req: IncomingMessage, res: ServerResponse, path: string, search: URLSearchParams): Promise<boolean> {
    // GET of the upload path is a procedure (files.listRoom): only POST is a stream.
    const upload = req.method === "POST" ? UPLOAD_PATH.exec(path) : null;
    const download = upload ? null : DOWNLOAD_PATH.exec(path);
    const linkImage = upload || download ? null : LINK_IMAGE_PATH.exec(path);
    if (!upload && !download && !linkImage) return false;
    res.setHeader("content-security-policy", FILE_CSP);
    res.setHeader("cache-control", "no-store"); // answers with bytes set their own
    try {
      if (upload) {
        await receiveUpload(createContext(req), req, res, pathParam("roomId", upload[1]!));
      } else if (download) {
        if (req.method !== "GET" && req.method !== "HEAD") throw notAllowed(res, "GET, HEAD");
        const token = search.get(TOKEN_PARAM);
        const variant = VARIANT_BY_SEGMENT[download[2]!]!;
        const cacheControl = downloadCacheControl(token !== null, search.get(EXPIRES_PARAM));
        await sendFile(createContext(req), req, res, { fileId: pathParam("fileId", download[1]!), variant, token, cacheControl });
      } else if (linkImage) {
        if (req.method !== "GET" && req.method !== "HEAD") throw notAllowed(res, "GET, HEAD");
        await sendLinkImage(createContext(req), req, res, pathParam("imageId", linkImage[1]!));
      }
    } catch (error) {
      const failure = error instanceof EdgeError ? error : fromServiceError(error);
      if (failure.code === "INTERNAL_SERVER_ERROR") log.error({ err: failure.cause ?? error, path }, "file route failed");
      if (!res.headersSent) {
        if (req.method === "POST" && !req.complete) res.setHeader("connection", "close"); // the rest of the body is not read
        sendError(res, failure);
      } else res.destroy(); // mid-stream: the client sees a cut transfer, never a half file as whole
    }
    return true;
  };
}

function notAllowed(res: ServerResponse, allow: string): EdgeError {
  res.setHeader("allow", allow);
  return new EdgeError("METHOD_NOT_SUPPORTED", `use ${allow}`);
}

function pathParam(name: string, raw: string): string {
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw new EdgeError("BAD_REQUEST", `${name}: malformed percent-encoding`, { field: name });
  }
  return value;
}

function requireId(name: string, value: string): string {
  const checked = check(FIELDS.id, value);
  if (!checked.ok) throw new EdgeError("BAD_REQUEST", `${name}: ${checked.message}`, { field: name });
  return checked.value;
}

// --- uploads ---

async function receiveUpload(ctx: Context, req: IncomingMessage, res: ServerResponse, rawRoomId: string): Promise<void> {
  const user = await authenticate(ctx);
  // An upload is the first half of a send: it draws on the same budgets (send-budget.ts).
  await enforceLimit(ctx, sendBudgetKey(user.id), ctx.limits.sendPerUser, SEND_BUDGET_WINDOW_MS);
  await enforceLimit(ctx, `edge:send:address:${ctx.caller.clientAddress}`, ctx.limits.sendPerAddress, 10_000);
  const roomId = requireId("roomId", rawRoomId);
  const size = declaredSize(req);
  const contentType = req.headers["content-type"] ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType)) throw new EdgeError("UNSUPPORTED_MEDIA_TYPE", "send the file as multipart/form-data with one part named file");
  // The service refuses a declared size over its limit before any byte is read; a body larger
  // than the declared file and its envelope cannot be honest, and is refused here, unread.
  const contentLength = Number(req.headers["content-length"] ?? NaN);
  if (Number.isFinite(contentLength) && contentLength > size + MULTIPART_ALLOWANCE_BYTES) {
    throw new EdgeError("PAYLOAD_TOO_LARGE", `the body is larger than the ${size} bytes of ${FILE_SIZE_HEADER} and their multipart envelope`);
  }

  const transfer = new Transfer(res);
  try {
    // The idle clock runs from here: a client that sends its headers and then nothing is let go.
    transfer.touch();
    const part = await filePart(req, size, transfer);
    const caller = { ...ctx.caller, userId: user.id, sessionId: user.sessionId };
    const { file } = await ctx.services.files.uploadFile(uploadRequests({ roomId, name: part.name, size: BigInt(size) }, part.stream, () => transfer.touch()), {
      ...callOptions(caller),
      signal: transfer.signal,
      timeoutMs: TRANSFER_DEADLINE_MS,
    });
    sendJson(res, 201, shapeFile(file));
  } catch (error) {
    throw transfer.failure() ?? error;
  } finally {
    transfer.end();
  }
}

function declaredSize(req: IncomingMessage): number {
  const raw = req.headers[FILE_SIZE_HEADER];
  const size = typeof raw === "string" && /^\d{1,15}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new EdgeError("BAD_REQUEST", `size: send the file's size in bytes (a whole number above 0) in the ${FILE_SIZE_HEADER} header`, { field: "size" });
  }
  return size;
}

function longerThanDeclared(size: number): EdgeError {
  return new EdgeError("BAD_REQUEST", `size: the file is longer than the ${size} bytes of ${FILE_SIZE_HEADER}`, { field: "size" });
}

interface FilePart {
  name: string;
  stream: Readable;
}

/**
 * The `file` part of a multipart body, as a stream that is read only as fast as the service takes
 * it (busboy pauses the request while its part is not read). Any other part is a 400.
 */
function filePart(req: IncomingMessage, size: number, transfer: Transfer): Promise<FilePart> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      // Browsers send the file name's UTF-8 bytes as they are; busboy would read them as latin1.
      parser = busboy({ headers: req.headers, defParamCharset: "utf8", limits: { files: 1, fields: 0, parts: 2, fileSize: size + 1 } });
    } catch {
      reject(new EdgeError("BAD_REQUEST", "the body is not multipart/form-data with a boundary"));
      return;
    }
    let current: Readable | undefined;
    // After the part was handed on, a failure ends the transfer (and so the service call) with its reason.
    const fail = (error: EdgeError) => {
      reject(error);
      transfer.abort(error);
    };
    const malformed = (message: string) => fail(new EdgeError("BAD_REQUEST", message, { field: "file" }));
    parser.on("file", (field, stream, info) => {
      if (field !== "file") {
        stream.resume();
        return malformed(`a part named ${JSON.stringify(field.slice(0, 40))}: send one part, named file`);
      }
      current = stream;
      // More bytes than declared (busboy's limit is reached at size + 1): the service must not take a cut file.
      stream.on("limit", () => fail(longerThanDeclared(size)));
      resolve({ name: info.filename ?? "", stream });
    });
    parser.on("field", (field) => malformed(`a field named ${JSON.stringify(field.slice(0, 40))}: send one part, named file (the size goes in ${FILE_SIZE_HEADER})`));
    parser.on("fieldsLimit", () => malformed(`send one part, named file (the size goes in ${FILE_SIZE_HEADER})`));
    // busboy's limit events: a second part (parts: 2 is reached as it starts), a second file.
    parser.on("partsLimit", () => malformed("send one part, named file"));
    parser.on("filesLimit", () => malformed("send one part, named file"));
    parser.on("error", (error: unknown) => malformed(`malformed multipart body: ${String((error as Error)?.message ?? error).slice(0, 100)}`));
    parser.on("close", () => reject(new EdgeError("BAD_REQUEST", "file: the body has no part named file", { field: "file" })));
    transfer.signal.addEventListener("abort", () => {
      // The client went away (or the transfer stalled) before or while the part came.
      reject(transfer.failure() ?? new EdgeError("CLIENT_CLOSED_REQUEST", "the upload was cut off"));
      current?.destroy();
      req.unpipe(parser);
    });
    req.pipe(parser);
  });
}

/**
 * UploadFile's requests: the header, then the part's bytes in chunks of at most 1 MiB, pulled one
 * at a time as the gRPC stream has room (the call awaits each write).
 */
export async function* uploadRequests(
  header: { roomId: string; name: string; size: bigint },
  source: AsyncIterable<Uint8Array>,
  onChunk?: () => void,
): AsyncGenerator<MessageInitShape<typeof UploadFileRequestSchema>> {
  yield { part: { case: "header", value: header } };
  for await (const chunk of source) {
    onChunk?.();
    for (let at = 0; at < chunk.length; at += UPLOAD_CHUNK_MAX_BYTES) {
      yield { part: { case: "chunk", value: chunk.subarray(at, at + UPLOAD_CHUNK_MAX_BYTES) } };
    }
  }
}

/**
 * One transfer's cancellation: the caller going away (the response closed before it was sent),
 * or a stall of TRANSFER_IDLE_MS, aborts the service call.
 */
class Transfer {
  private readonly controller = new AbortController();
  private idle?: NodeJS.Timeout;
  private reason?: EdgeError;
  private readonly onClose = () => {
    if (!this.res.writableFinished) this.abort();
  };

  constructor(private readonly res: ServerResponse) {
    res.on("close", this.onClose);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Something moved: the idle clock starts again. */
  touch(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.abort(new EdgeError("TIMEOUT", `nothing moved for ${TRANSFER_IDLE_MS / 1000} s`)), TRANSFER_IDLE_MS);
    this.idle.unref();
  }

  abort(reason?: EdgeError): void {
    this.reason ??= reason;
    this.controller.abort();
  }

  /** Why the transfer was ended here, if it was. */
  failure(): EdgeError | undefined {
    return this.reason;
  }

  end(): void {
    clearTimeout(this.idle);
    this.res.off("close", this.onClose);
  }
}

// --- downloads ---

/** A Range header's one range, as RFC 9110 §14.1.2 writes it; several ranges are served whole (the header may be ignored). */
export type ByteRange = { start: number; end?: number } | { suffix: number };

export function parseRange(header: string | undefined): ByteRange | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/i.exec(header.trim());
  if (!match) return undefined;
  const [, first, last] = match;
  if (first === "" && last === "") return undefined;
  if (first === "") return { suffix: Number(last) };
  const start = Number(first);
  if (last === "") return { start };
  const end = Number(last);
  return end < start ? undefined : { start, end };
}

type ReadPart = { part: { case: "info"; value: FileContentInfo } | { case: "chunk"; value: Uint8Array } | { case: undefined; value?: undefined } };

async function sendFile(
  ctx: Context,
  req: IncomingMessage,
  res: ServerResponse,
  target: { fileId: string; variant: FileVariant; token: string | null; cacheControl: string },
): Promise<void> {
  const fileId = requireId("fileId", target.fileId);
  let caller = ctx.caller;
  if (target.token === null) {
    const user = await authenticate(ctx);
    await enforceLimit(ctx, `edge:read:user:${user.id}`, ctx.limits.readPerUser, 10_000);
    caller = { ...caller, userId: user.id, sessionId: user.sessionId };
  } else if (target.token === "" || target.token.length > 4096) {
    // Not a token the service could have made: refused as the service refuses a bad one (ReadFile).
    throw new EdgeError("FORBIDDEN", "the download link is not valid or has expired");
  }
  const open: OpenRead = (offset, length, signal) =>
    ctx.services.files.readFile(
      { fileId, variant: target.variant, urlToken: target.token ?? "", offset: BigInt(offset), length: BigInt(length) },
      { ...callOptions(caller), signal, timeoutMs: TRANSFER_DEADLINE_MS },
    ) as AsyncIterable<ReadPart>;
  await serveStream(req, res, open, target.cacheControl);
}

async function sendLinkImage(ctx: Context, req: IncomingMessage, res: ServerResponse, imageId: string): Promise<void> {
  if (imageId === "" || imageId.length > 256) throw new EdgeError("NOT_FOUND", "image not found");
  // The whole image every time (small, re-encoded by the server): a Range is not offered.
  const open: OpenRead = (_offset, _length, signal) =>
    ctx.services.files.readLinkImage({ imageId }, { ...callOptions(ctx.caller), signal, timeoutMs: TRANSFER_DEADLINE_MS }) as AsyncIterable<ReadPart>;
  await serveStream(req, res, open, `public, max-age=${LINK_IMAGE_MAX_AGE_SECONDS}`, { ranges: false });
}

/** One ReadFile (or ReadLinkImage) call: its metadata read, its bytes not yet, and a way to end it. */
interface OpenedRead {
  info: FileContentInfo;
  rest: AsyncIterator<ReadPart>;
  cancel(): void;
}

type OpenRead = (offset: number, length: number, signal: AbortSignal) => AsyncIterable<ReadPart>;

/** Starts a call and reads its first answer (the metadata); the bytes stay unread until pulled. */
async function openRead(open: OpenRead, offset: number, length: number, parent: AbortSignal): Promise<OpenedRead> {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  parent.addEventListener("abort", onAbort, { once: true });
  const cancel = () => {
    parent.removeEventListener("abort", onAbort);
    controller.abort();
  };
  try {
    const rest = open(offset, length, controller.signal)[Symbol.asyncIterator]();
    const first = await rest.next();
    if (first.done || first.value.part.case !== "info") throw new ConnectError("the stream did not start with its metadata", Code.Internal);
    return { info: first.value.part.value, rest, cancel };
  } catch (error) {
    cancel();
    throw error;
  }
}

/**
 * A download: Range (one range: 206, or 416), If-None-Match (304), HEAD, then the bytes, each chunk
 * written when the client's socket has room. The call is cancelled when the client goes away.
 * If-Range needs no check: a file's bytes never change under its id (the ETag is their hash).
 */
async function serveStream(req: IncomingMessage, res: ServerResponse, open: OpenRead, cacheControl: string, { ranges = true } = {}): Promise<void> {
  const transfer = new Transfer(res);
  let read: OpenedRead | undefined;
  try {
    let range = ranges ? parseRange(req.headers.range) : undefined;
    if (range && "suffix" in range) {
      // The last N bytes: their offset needs the size, which the stream's metadata gives.
      const probe = await openRead(open, 0, 0, transfer.signal);
      probe.cancel();
      const total = Number(probe.info.totalSize);
      range = { start: range.suffix === 0 ? total : Math.max(0, total - range.suffix) };
    }
    try {
      read = range && "start" in range
        ? await openRead(open, range.start, range.end === undefined ? 0 : range.end - range.start + 1, transfer.signal)
        : await openRead(open, 0, 0, transfer.signal);
    } catch (error) {
      if (!(range && ConnectError.from(error).code === Code.OutOfRange)) throw error;
      // Past the end: 416 with the size (RFC 9110 §15.5.17), which a stream from the start tells.
      const whole = await openRead(open, 0, 0, transfer.signal);
      whole.cancel();
      res.setHeader("content-range", `bytes */${whole.info.totalSize}`);
      res.setHeader("accept-ranges", "bytes");
      sendJson(res, 416, { error: { code: "RANGE_NOT_SATISFIABLE", message: `the range starts at or after the end (${whole.info.totalSize} bytes)` } });
      return;
    }
    const { info, rest } = read;
    setFileHeaders(res, info, cacheControl);
    if (ranges) res.setHeader("accept-ranges", "bytes");
    if (matchesEtag(req.headers["if-none-match"], info.etag)) {
      res.writeHead(304).end();
      return;
    }
    const partial = range !== undefined;
    if (partial) res.setHeader("content-range", `bytes ${info.offset}-${info.offset + info.length - 1n}/${info.totalSize}`);
    res.setHeader("content-length", String(info.length));
    res.writeHead(partial ? 206 : 200);
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    await pipeChunks(rest, res, transfer);
    res.end();
  } catch (error) {
    throw transfer.failure() ?? error;
  } finally {
    read?.cancel(); // done, or given up: either way the call ends here
    transfer.end();
  }
}

/**
 * Writes a stream's chunks to the response, pulling the next only when the socket has taken the
 * last (write() false: wait for drain). Memory stays at one chunk plus the socket's buffer.
 */
export async function pipeChunks(
  rest: AsyncIterator<ReadPart>,
  res: NodeJS.WritableStream & { destroyed?: boolean },
  transfer?: { touch(): void; signal: AbortSignal },
): Promise<void> {
  transfer?.touch();
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    const { part } = next.value;
    if (part.case !== "chunk") continue;
    transfer?.touch();
    if (!res.write(part.value)) {
      const signal = transfer?.signal;
      await once(res as NodeJS.EventEmitter, "drain", signal ? { signal } : {});
    }
  }
}

function setFileHeaders(res: ServerResponse, info: FileContentInfo, cacheControl: string): void {
  // Images, video and audio (never SVG: the service shows SVG as a download) open in the browser;
  // everything else is saved, never rendered in our origin.
  const inline = info.display === FileDisplay.IMAGE || info.display === FileDisplay.VIDEO || info.display === FileDisplay.AUDIO;
  res.setHeader("content-type", info.mediaType || "application/octet-stream");
  res.setHeader("content-disposition", contentDisposition(inline ? "inline" : "attachment", info.name || "file"));
  res.setHeader("x-content-type-options", "nosniff");
  res.setHeader("cross-origin-resource-policy", "same-origin");
  res.setHeader("cache-control", cacheControl);
  if (info.etag) res.setHeader("etag", `"${info.etag}"`);
  if (info.modifyTime) res.setHeader("last-modified", timestampDate(info.modifyTime).toUTCString());
}

/** RFC 6266 with RFC 8187's UTF-8 name, and a plain ASCII name for old clients. */
export function contentDisposition(kind: "inline" | "attachment", name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** If-None-Match (RFC 9110 §13.1.2): "*" or a list of tags; weak comparison, as the RFC says for it. */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header || !etag) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === `"${etag}"`);
}
