// FileService (issue 19), hosted by the message process: uploads streamed to a temporary file and
// stored, downloads for the members of a file's room (checked at every call), signed URLs, a
// room's files. Rows in the message database (repository.ts), bytes in the FileStorage.
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import { once } from "node:events";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { fail, requireUserId, toTimestamp, validate, type CallContext, type ServiceHandlers } from "@parley/kit";
import {
  FileDisplay,
  FileVariant,
  type DeleteUploadRequest,
  type FileService,
  type GetFilesRequest,
  type ListRoomFilesRequest,
  type ReadFileRequest,
  type ReadFileResponseSchema,
  type ReadLinkImageRequest,
  type ReadLinkImageResponseSchema,
  type SignFileUrlsRequest,
  type UploadFileRequest,
} from "@parley/proto/file/v1/file_pb";
import { fields } from "@parley/proto/rules/zod";
import { z } from "zod";
import type { MessageDb } from "../db.js";
import type { StoredFile } from "../entities.js";
import { decodeTimeToken, encodeTimeToken } from "../page-token.js";
import type { RoomGate } from "../room-access.js";
import { FILE_BATCH_MAX, READ_CHUNK, ROOM_FILES_PAGE, UPLOAD_CHUNK_MAX, storageKeys, type FilesConfig } from "./config.js";
import { processImage, sniff } from "./inspect.js";
import { StorageNotFound } from "./storage.js";
import { toFile } from "./to-file.js";
import { LinkImages } from "../previews/link-images.js";
import { URL_KEY_SECRET, UrlSigner, generateUrlKey } from "./url-token.js";

const { id: uuid } = fields;
const NAME_MAX = 255;
const FILE_NOT_FOUND = "file not found";
const BAD_URL_TOKEN = "the download link is not valid or has expired";

type ReadFileInit = MessageInitShape<typeof ReadFileResponseSchema>;

/** The name as uploaded, without path separators, control characters or bidi overrides (1-255 characters). */
export function cleanFileName(name: string): string {
  return name
    .replace(/[/\\]/g, "")
    .replace(/[\p{Cc}\u202A-\u202E\u2066-\u2069\u200E\u200F]/gu, "")
    .trim();
}

export class FileServiceImpl implements ServiceHandlers<typeof FileService> {
  private signer?: Promise<UrlSigner>;
  private linkImages?: LinkImages;

  constructor(
    private readonly db: MessageDb,
    private readonly gate: RoomGate,
    private readonly config: FilesConfig,
  ) {}

  async uploadFile(requests: AsyncIterable<UploadFileRequest>, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const id = randomUUID();
    const work = {
      upload: join(this.config.tempDir, `${id}.upload`),
      stripped: join(this.config.tempDir, `${id}.stripped`),
      thumbnail: join(this.config.tempDir, `${id}.thumbnail.webp`),
    };
    let outcome: "stored" | "failed" = "failed";
    let stored: string[] = [];
    try {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done || first.value.part.case !== "header") throw fail.invalidArgument("header", "the first request must carry the header");
      const header = first.value.part.value;
      const roomId = validate(z.object({ room_id: uuid }), { room_id: header.roomId }).room_id;
      const name = cleanFileName(header.name);
      if (name.length === 0 || [...name].length > NAME_MAX) throw fail.invalidArgument("name", `must be 1-${NAME_MAX} characters (without path separators and control characters)`);
      const declared = header.size;
      if (declared <= 0n) throw fail.invalidArgument("size", "must be the number of bytes that follow (more than 0)");
      if (declared > BigInt(this.config.maxBytes)) throw fail.tooLarge(`a file may have at most ${this.config.maxBytes} bytes`, "file-size");
      // Posting rights as SendMessage checks them: a member, and the room not archived.
      const access = await this.gate.requireMember(roomId, caller);
      if (access.archived) throw fail.failedPrecondition("the room is archived (read-only)");
      await this.checkQuota(caller, declared);

      await mkdir(this.config.tempDir, { recursive: true, mode: 0o700 });
      const received = await receive(iterator, work.upload, Number(declared));
      const sniffed = await sniff(work.upload);
      let file = { path: work.upload, sha256: received.sha256, size: received.size };
      let image: Awaited<ReturnType<typeof processImage>> | undefined;
      if (sniffed.display === FileDisplay.IMAGE) {
        image = await processImage(work.upload, sniffed.mediaType, work, { stripExif: this.config.stripExif, maxPixels: this.config.maxImagePixels });
        if (image.strippedPath) file = { path: image.strippedPath, ...(await digest(image.strippedPath)) };
      }
      // The bytes first, then the row: a crash in between leaves an object no row points to, which
      // the sweeper removes; never a row without its bytes.
      await this.store(storageKeys.original(id), file.path, sniffed.mediaType, ctx);
      stored.push(storageKeys.original(id));
      const thumbnail = image ? { ...image.thumbnail, ...(await digest(image.thumbnail.path)) } : undefined;
      if (thumbnail) {
        await this.store(storageKeys.thumbnail(id), thumbnail.path, "image/webp", ctx);
        stored.push(storageKeys.thumbnail(id));
      }
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const row = await this.db.fork().files.store({
        id,
        roomId,
        uploaderId: caller,
        name,
        size: BigInt(file.size),
        mediaType: sniffed.mediaType,
        display: sniffed.display,
        width: image?.width ?? 0,
        height: image?.height ?? 0,
        animated: image?.animated ?? false,
        hasThumbnail: thumbnail !== undefined,
        thumbnailWidth: thumbnail?.width ?? 0,
        thumbnailHeight: thumbnail?.height ?? 0,
        thumbnailSize: BigInt(thumbnail?.size ?? 0),
        thumbnailSha256: thumbnail?.sha256 ?? "",
        sha256: file.sha256,
        createdAt: new Date(),
      });
      stored = [];
      outcome = "stored";
      return { file: toFile(row) };
    } finally {
      for (const key of stored) await this.config.storage.delete(key).catch((error: unknown) => ctx.log.warn({ err: error, key }, "could not remove the bytes of a failed upload (the sweeper will)"));
      await Promise.all(Object.values(work).map((path) => rm(path, { force: true })));
      this.config.onUploadEnded?.({ fileId: id, outcome });
    }
  }

  /** Puts a finished file into the storage; a storage that fails is UNAVAILABLE (try again), the cause logged. */
  private async store(key: string, path: string, mediaType: string, ctx: CallContext): Promise<void> {
    try {
      await this.config.storage.putFile(key, path, mediaType);
    } catch (error) {
      ctx.log.error({ err: error, key, storage: this.config.storage.kind }, "could not store an upload");
      throw fail.unavailable("the file storage is not reachable: try again");
    }
  }

  private async checkQuota(caller: string, declared: bigint): Promise<void> {
    if (this.config.quotaBytes <= 0) return;
    const used = await this.db.fork().files.bytesOf(caller);
    if (used + declared > BigInt(this.config.quotaBytes)) {
      throw fail.tooLarge(`your files would take more than your quota of ${this.config.quotaBytes} bytes (${used} used)`, "quota");
    }
  }

  async *readFile(request: ReadFileRequest, ctx: CallContext): AsyncGenerator<ReadFileInit> {
    const variant = request.variant === FileVariant.UNSPECIFIED ? FileVariant.ORIGINAL : request.variant;
    if (variant !== FileVariant.ORIGINAL && variant !== FileVariant.THUMBNAIL) throw fail.invalidArgument("variant", "must be ORIGINAL or THUMBNAIL");
    const fileId = validate(z.object({ file_id: uuid }), { file_id: request.fileId }).file_id;
    let reader: string;
    if (request.urlToken) {
      const grant = (await this.urlSigner()).verify(request.urlToken);
      if (!grant || grant.fileId !== fileId || grant.variant !== variant) throw fail.permissionDenied(BAD_URL_TOKEN);
      reader = grant.userId;
    } else {
      reader = requireUserId(ctx);
    }
    if (request.offset < 0n) throw fail.invalidArgument("offset", "must not be negative");
    if (request.length < 0n) throw fail.invalidArgument("length", "must not be negative (0: to the end)");
    const file = await this.readable(fileId, reader);
    const thumbnail = variant === FileVariant.THUMBNAIL;
    if (thumbnail && !file.hasThumbnail) throw fail.notFound("this file has no thumbnail");
    const total = BigInt(thumbnail ? file.thumbnailSize : file.size);
    if (request.offset >= total) throw fail.outOfRange(`offset: the file has ${total} bytes`);
    const left = total - request.offset;
    const length = request.length === 0n || request.length > left ? left : request.length;
    let stream: Readable;
    try {
      stream = await this.config.storage.read(thumbnail ? storageKeys.thumbnail(file.id) : storageKeys.original(file.id), {
        offset: Number(request.offset),
        length: Number(length),
      });
    } catch (error) {
      if (!(error instanceof StorageNotFound)) {
        ctx.log.error({ err: error, fileId: file.id, storage: this.config.storage.kind }, "could not read a file from the storage");
        throw fail.unavailable("the file storage is not reachable: try again");
      }
      ctx.log.error({ fileId: file.id, key: error.key }, "a file's row has no stored bytes");
      throw fail.notFound(FILE_NOT_FOUND);
    }
    try {
      yield {
        part: {
          case: "info",
          value: {
            name: thumbnail ? `${file.name.replace(/\.[^.]*$/, "")}.webp` : file.name,
            mediaType: thumbnail ? "image/webp" : file.mediaType,
            display: thumbnail ? FileDisplay.IMAGE : (file.display as FileDisplay),
            totalSize: total,
            offset: request.offset,
            length,
            etag: thumbnail ? file.thumbnailSha256 : file.sha256,
            modifyTime: toTimestamp(file.createdAt),
          },
        },
      };
      // Each yield waits while the caller is not reading (the server's backpressure), so the
      // storage stream is read only as fast as the caller takes it.
      for await (const chunk of rechunk(stream, READ_CHUNK)) {
        if (ctx.signal.aborted) return;
        yield { part: { case: "chunk", value: chunk } };
      }
    } finally {
      stream.destroy();
    }
  }

  async signFileUrls(request: SignFileUrlsRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const ids = this.validIds(request.fileIds);
    const variant = request.variant === FileVariant.UNSPECIFIED ? FileVariant.ORIGINAL : request.variant;
    if (variant !== FileVariant.ORIGINAL && variant !== FileVariant.THUMBNAIL) throw fail.invalidArgument("variant", "must be ORIGINAL or THUMBNAIL");
    const files = (await this.readableMany(ids, caller)).filter((f) => variant === FileVariant.ORIGINAL || f.hasThumbnail);
    const signer = await this.urlSigner();
    const expires = Math.floor(Date.now() / 1000) + this.config.urlTtlSeconds;
    return {
      urls: files.map((file) => ({
        fileId: file.id,
        variant,
        token: signer.sign({ fileId: file.id, variant, userId: caller, expires }),
        expireTime: toTimestamp(expires * 1000),
      })),
    };
  }

  async getFiles(request: GetFilesRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const files = await this.readableMany(this.validIds(request.fileIds), caller);
    return { files: files.map(toFile) };
  }

  async listRoomFiles(request: ListRoomFilesRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const roomId = validate(z.object({ room_id: uuid }), { room_id: request.roomId }).room_id;
    const limit = request.limit === 0 ? ROOM_FILES_PAGE.default : request.limit;
    if (limit < 1 || limit > ROOM_FILES_PAGE.max) throw fail.invalidArgument("limit", `must be 1-${ROOM_FILES_PAGE.max} (0 for ${ROOM_FILES_PAGE.default})`);
    const after = request.pageToken ? decodeTimeToken(request.pageToken) : null;
    await this.gate.requireMember(roomId, caller);
    const rows = await this.db.fork().files.roomFiles(roomId, request.imagesOnly, after && { createdAt: after.time, id: after.id }, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { files: page.map(toFile), nextPageToken: rows.length > limit && last ? encodeTimeToken(last.createdAt, last.id) : "" };
  }

  async deleteUpload(request: DeleteUploadRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const fileId = validate(z.object({ file_id: uuid }), { file_id: request.fileId }).file_id;
    const { files } = this.db.fork();
    const file = await files.findReadable(fileId);
    if (!file || file.uploaderId !== caller) throw fail.notFound(FILE_NOT_FOUND);
    if (file.messageId) throw fail.failedPrecondition("the file is attached to a message: delete the message instead");
    // Attached meanwhile (a send racing this): the conditional delete takes nothing.
    if (!(await files.deleteUnattached(fileId, caller))) throw fail.failedPrecondition("the file is attached to a message: delete the message instead");
    for (const key of [storageKeys.original(fileId), storageKeys.thumbnail(fileId)]) {
      await this.config.storage.delete(key).catch((error: unknown) => ctx.log.warn({ err: error, key }, "could not remove a withdrawn upload's bytes (the sweeper will)"));
    }
    return {};
  }

  /** A link preview's re-hosted image (issue 19, previews/link-images.ts): the id is the capability, no membership to check. */
  readLinkImage(request: ReadLinkImageRequest): AsyncGenerator<MessageInitShape<typeof ReadLinkImageResponseSchema>> {
    this.linkImages ??= new LinkImages({ db: this.db, storage: this.config.storage });
    return this.linkImages.read(request.imageId);
  }

  /** A file `reader` may read now, or NOT_FOUND (alike for a missing file and one of a room they are not in). */
  private async readable(fileId: string, reader: string): Promise<StoredFile> {
    const file = await this.db.fork().files.findReadable(fileId);
    if (!file) throw fail.notFound(FILE_NOT_FOUND);
    // Unattached: its uploader's alone (the composer shows it before the send).
    if (!file.messageId) {
      if (file.uploaderId !== reader) throw fail.notFound(FILE_NOT_FOUND);
      return file;
    }
    await this.gate.requireMember(file.roomId, reader, FILE_NOT_FOUND);
    return file;
  }

  /** The files among `ids` that `reader` may read now, in the order asked. */
  private async readableMany(ids: string[], reader: string): Promise<StoredFile[]> {
    const rows = await this.db.fork().files.findReadableMany(ids);
    const rooms = [...new Set(rows.filter((f) => f.messageId).map((f) => f.roomId))];
    const member = new Set((await Promise.all(rooms.map(async (room) => ((await this.gate.isMember(room, reader)) ? room : null)))).filter(Boolean));
    const byId = new Map(rows.map((f) => [f.id, f]));
    return ids.flatMap((id) => {
      const file = byId.get(id);
      if (!file) return [];
      const mayRead = file.messageId ? member.has(file.roomId) : file.uploaderId === reader;
      return mayRead ? [file] : [];
    });
  }

  private validIds(ids: string[]): string[] {
    const input = validate(z.object({ file_ids: z.array(uuid).max(FILE_BATCH_MAX, `at most ${FILE_BATCH_MAX} files`) }), { file_ids: ids });
    return [...new Set(input.file_ids)];
  }

  private urlSigner(): Promise<UrlSigner> {
    this.signer ??= this.db
      .fork()
      .files.secret(URL_KEY_SECRET, generateUrlKey)
      .then((key) => new UrlSigner(key));
    // A failed read is tried again by the next call.
    this.signer.catch(() => (this.signer = undefined));
    return this.signer;
  }
}

/**
 * Writes the upload's chunks to `path` as they come (waiting for the disk: the caller's stream is
 * read no faster), counting and hashing them; INVALID_ARGUMENT when they are more or fewer than
 * declared. The iterator throws when the caller cancels.
 */
async function receive(requests: AsyncIterator<UploadFileRequest>, path: string, declared: number): Promise<{ size: number; sha256: string }> {
  const out = createWriteStream(path, { flags: "wx", mode: 0o600 });
  const hash = createHash("sha256");
  let size = 0;
  try {
    for (;;) {
      const next = await requests.next();
      if (next.done) break;
      const part = next.value.part;
      if (part.case !== "chunk") throw fail.invalidArgument("header", "only the first request carries the header");
      if (part.value.length > UPLOAD_CHUNK_MAX) throw fail.invalidArgument("chunk", `must be at most ${UPLOAD_CHUNK_MAX} bytes`);
      size += part.value.length;
      if (size > declared) throw fail.invalidArgument("size", `more bytes arrived than the header's size (${declared})`);
      hash.update(part.value);
      if (!out.write(part.value)) await once(out, "drain");
    }
    if (size < declared) throw fail.invalidArgument("size", `the upload ended after ${size} of the header's ${declared} bytes`);
    out.end();
    await finished(out);
    return { size, sha256: hash.digest("hex") };
  } catch (error) {
    out.destroy();
    await finished(out).catch(() => {});
    throw error;
  }
}

/** Size and SHA-256 of a local file, streamed. */
async function digest(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { size: (await stat(path)).size, sha256: hash.digest("hex") };
}

/** The stream's bytes in chunks of `size` (the last one shorter). */
async function* rechunk(stream: Readable, size: number): AsyncGenerator<Uint8Array> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of stream) {
    const buffer = Buffer.isBuffer(piece) ? piece : Buffer.from(piece as Uint8Array);
    pending.push(buffer);
    pendingBytes += buffer.length;
    while (pendingBytes >= size) {
      const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      yield all.subarray(0, size);
      pending = all.length > size ? [all.subarray(size)] : [];
      pendingBytes -= size;
    }
  }
  if (pendingBytes > 0) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending);
}
