// The images of link previews, re-hosted so that members' browsers never call the third party:
// fetched once under the outbound rules (size limit), decoded and re-encoded by sharp to WebP
// (bounded dimensions, no metadata: EXIF and the rest are dropped), kept in FileStorage under
// "link-images/<id>" with a row in link_images. The id is HMAC-SHA256(server key, image URL): the
// same image URL gives the same id (stored once), and nobody can guess one without the key (kept
// in service_secrets as "link-image", shared by every replica).
//
// FileService.ReadLinkImage is `new LinkImages({ db, storage }).read(imageId)`: its info, then its
// bytes in chunks (wired by the FileService implementation, services/message/src/files).
import { createHash, createHmac, randomBytes } from "node:crypto";
import { unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { fail, toTimestamp, type OutboundResponse } from "@parley/kit";
import { FileDisplay, type ReadLinkImageResponseSchema } from "@parley/proto/file/v1/file_pb";
import sharp from "sharp";
import type { MessageDb } from "../db.js";
import { StorageNotFound, type FileStorage } from "../files/storage.js";

/** The longest side of a stored image, in pixels. */
export const LINK_IMAGE_MAX_SIDE = 1200;
/** Images larger than this many pixels are not decoded at all (a decompression bomb is refused). */
const MAX_INPUT_PIXELS = 40_000_000;
/** What may be decoded: raster formats only (never SVG, whose renderer follows references). */
const ACCEPTED_FORMATS = new Set(["jpeg", "png", "gif", "webp", "avif"]);
const CHUNK_BYTES = 64 * 1024;
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const KEY_NAME = "link-image";

export const linkImageKey = (id: string) => `link-images/${id}`;

export interface StoredLinkImage {
  id: string;
  width: number;
  height: number;
}

type ReadLinkImagePart = MessageInitShape<typeof ReadLinkImageResponseSchema>;

export class LinkImages {
  private key: Promise<Buffer> | undefined;

  constructor(private readonly deps: { db: MessageDb; storage: FileStorage }) {}

  /** The id the image at `url` has (or would have). */
  async idFor(url: string): Promise<string> {
    this.key ??= this.deps.db
      .fork()
      .files.secret(KEY_NAME, () => randomBytes(32).toString("base64"))
      .then((secret) => Buffer.from(secret, "base64"));
    const key = await this.key.catch((error: unknown) => {
      this.key = undefined;
      throw error;
    });
    return createHmac("sha256", key).update(url).digest("base64url");
  }

  /**
   * The stored image of `url`, fetching and re-encoding it when it is new; throws when it cannot be
   * fetched (the fetch's error), is not a raster image, or is cut off at the size limit.
   */
  async store(url: string, fetchImage: (url: string) => Promise<OutboundResponse>): Promise<StoredLinkImage> {
    const id = await this.idFor(url);
    const { previews } = this.deps.db.fork();
    const known = await previews.useLinkImage(id);
    if (known) return { id, ...known };
    const response = await fetchImage(url);
    if (response.truncated) throw new Error(`link image: ${url} is larger than the image size limit`);
    const encoded = await reencode(response.body);
    const path = join(tmpdir(), `parley-link-image-${randomBytes(8).toString("hex")}.webp`);
    await writeFile(path, encoded.data);
    try {
      await this.deps.storage.putFile(linkImageKey(id), path, "image/webp");
    } finally {
      await unlink(path).catch(() => undefined);
    }
    await previews.addLinkImage({
      id,
      sourceUrl: url,
      mediaType: "image/webp",
      size: encoded.data.length,
      width: encoded.width,
      height: encoded.height,
      etag: createHash("sha256").update(encoded.data).digest("hex"),
    });
    return { id, width: encoded.width, height: encoded.height };
  }

  /**
   * Removes up to `limit` images no message shows that no preview took for `unusedSeconds`: each
   * under its row lock, the bytes first, so that a preview taking it meanwhile waits and then
   * makes it again rather than pointing at removed bytes. How many went.
   */
  async removeUnused(unusedSeconds: number, limit = 100): Promise<number> {
    const candidates = await this.deps.db.fork().previews.unusedLinkImages(unusedSeconds, limit);
    let removed = 0;
    for (const id of candidates) {
      const gone = await this.deps.db.transactional(async (tx) => {
        if (!(await tx.previews.lockUnusedLinkImage(id, unusedSeconds))) return false;
        await this.deps.storage.delete(linkImageKey(id));
        await tx.previews.deleteLinkImage(id);
        return true;
      });
      if (gone) removed++;
    }
    return removed;
  }

  /** ReadLinkImage: NOT_FOUND for an id that is not one (any caller may read one it has: it is a capability). */
  async *read(imageId: string): AsyncGenerator<ReadLinkImagePart> {
    if (!ID_PATTERN.test(imageId)) throw fail.notFound("link image not found");
    const image = await this.deps.db.fork().previews.linkImage(imageId);
    if (!image) throw fail.notFound("link image not found");
    let stream: AsyncIterable<Buffer>;
    try {
      stream = await this.deps.storage.read(linkImageKey(imageId));
    } catch (error) {
      if (error instanceof StorageNotFound) throw fail.notFound("link image not found");
      throw error;
    }
    yield {
      part: {
        case: "info",
        value: {
          name: "image.webp",
          mediaType: image.mediaType,
          display: FileDisplay.IMAGE,
          totalSize: BigInt(image.size),
          offset: 0n,
          length: BigInt(image.size),
          etag: image.etag,
          modifyTime: toTimestamp(image.createdAt),
        },
      },
    };
    for await (const data of stream) {
      for (let at = 0; at < data.length; at += CHUNK_BYTES) yield { part: { case: "chunk", value: data.subarray(at, at + CHUNK_BYTES) } };
    }
  }
}

/** Decodes the bytes (raster formats only, the first frame) and re-encodes them as WebP within LINK_IMAGE_MAX_SIDE. */
async function reencode(bytes: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const input = sharp(bytes, { limitInputPixels: MAX_INPUT_PIXELS, failOn: "error", animated: false });
  const metadata = await input.metadata();
  if (!metadata.format || !ACCEPTED_FORMATS.has(metadata.format)) {
    throw new Error(`link image: ${metadata.format ?? "unknown"} images are not re-hosted`);
  }
  const { data, info } = await input
    .rotate()
    .resize({ width: LINK_IMAGE_MAX_SIDE, height: LINK_IMAGE_MAX_SIDE, fit: "inside", withoutEnlargement: true })
    .webp({ quality: 80 })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}
