// What an upload is, from its bytes only (the client's name and type are never trusted): its type
// sniffed by file-type, how the app may show it, and for images their size after orientation, a
// thumbnail (at most 480 x 480, WebP; animated when the image is) and a copy without EXIF.
import { createReadStream } from "node:fs";
import { fileTypeFromFile } from "file-type";
import sharp, { type Sharp } from "sharp";
import { ConnectError, fail } from "@parley/kit";
import { FileDisplay } from "@parley/proto/file/v1/file_pb";

/** Shown inline: never SVG (it can run script), never anything file-type does not recognise. */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"]);
const VIDEO_TYPES = new Set(["video/mp4", "video/webm", "video/ogg"]);
const AUDIO_TYPES = new Set(["audio/mpeg", "audio/ogg", "audio/opus", "audio/wav", "audio/vnd.wave", "audio/x-wav", "audio/flac", "audio/x-flac", "audio/mp4", "audio/x-m4a", "audio/aac"]);
/** Formats whose images may have several frames (kept animated in the thumbnail). */
const ANIMATABLE = new Set(["image/gif", "image/webp"]);

export const THUMBNAIL_MAX = 480;

export interface Sniffed {
  mediaType: string;
  display: FileDisplay;
}

/** The type of the bytes at `path`: file-type's, else text/plain for valid UTF-8, else application/octet-stream. */
export async function sniff(path: string): Promise<Sniffed> {
  const found = await fileTypeFromFile(path);
  const mediaType = found?.mime ?? ((await isUtf8File(path)) ? "text/plain" : "application/octet-stream");
  return { mediaType, display: displayOf(mediaType) };
}

export function displayOf(mediaType: string): FileDisplay {
  if (IMAGE_TYPES.has(mediaType)) return FileDisplay.IMAGE;
  if (VIDEO_TYPES.has(mediaType)) return FileDisplay.VIDEO;
  if (AUDIO_TYPES.has(mediaType)) return FileDisplay.AUDIO;
  return FileDisplay.DOWNLOAD;
}

/** Streams the file through a fatal UTF-8 decoder (never the whole file in memory). */
async function isUtf8File(path: string): Promise<boolean> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    for await (const chunk of createReadStream(path)) decoder.decode(chunk as Buffer, { stream: true });
    decoder.decode();
    return true;
  } catch (error) {
    if (error instanceof TypeError) return false;
    throw error;
  }
}

export interface ImageFacts {
  width: number;
  height: number;
  animated: boolean;
  /** Set when the stored bytes must be this re-encoded copy (its EXIF removed), not the upload. */
  strippedPath?: string;
  thumbnail: { path: string; width: number; height: number };
}

export interface ImageOptions {
  stripExif: boolean;
  maxPixels: number;
}

/**
 * Reads an image's size and makes its thumbnail (and, with stripExif, a copy without EXIF, the
 * orientation applied first, the ICC profile kept). An image larger than maxPixels, or one sharp
 * cannot decode, is INVALID_ARGUMENT: a decompression bomb fails cleanly instead of eating memory.
 */
export async function processImage(path: string, mediaType: string, work: { stripped: string; thumbnail: string }, options: ImageOptions): Promise<ImageFacts> {
  const input = { limitInputPixels: options.maxPixels, animated: ANIMATABLE.has(mediaType), failOn: "error" as const };
  try {
    const meta = await sharp(path, input).metadata();
    const pages = meta.pages ?? 1;
    const animated = ANIMATABLE.has(mediaType) && pages > 1;
    const frameHeight = meta.pageHeight ?? meta.height ?? 0;
    if ((meta.width ?? 0) * frameHeight > options.maxPixels) throw tooManyPixels(options.maxPixels);
    // Orientations 5-8 turn the image a quarter: width and height swap once it is applied.
    const turned = (meta.orientation ?? 1) >= 5;
    const width = turned ? frameHeight : (meta.width ?? 0);
    const height = turned ? (meta.width ?? 0) : frameHeight;
    let source = path;
    let strippedPath: string | undefined;
    const hasMetadata = meta.exif !== undefined || meta.xmp !== undefined || meta.iptc !== undefined;
    if (options.stripExif && hasMetadata) {
      // sharp writes no metadata unless asked: re-encoding drops EXIF, XMP and IPTC; keep the colours.
      let image = sharp(path, input).keepIccProfile();
      if (!animated) image = image.autoOrient();
      await formatted(image, mediaType).toFile(work.stripped);
      strippedPath = work.stripped;
      source = work.stripped;
    }
    let thumb = sharp(source, input);
    if (!animated) thumb = thumb.autoOrient();
    await thumb.resize(THUMBNAIL_MAX, THUMBNAIL_MAX, { fit: "inside", withoutEnlargement: true }).webp({ quality: 80 }).toFile(work.thumbnail);
    const made = await sharp(work.thumbnail, { animated: true }).metadata();
    return {
      width,
      height,
      animated,
      strippedPath,
      thumbnail: { path: work.thumbnail, width: made.width ?? 0, height: made.pageHeight ?? made.height ?? 0 },
    };
  } catch (error) {
    if (error instanceof Error && /pixel limit|exceeds pixel/i.test(error.message)) throw tooManyPixels(options.maxPixels);
    if (error instanceof ConnectError) throw error;
    throw fail.invalidArgument("chunk", `the bytes look like ${mediaType} but are not a readable image`);
  }
}

function tooManyPixels(max: number) {
  return fail.invalidArgument("chunk", `the image has more than ${max} pixels`);
}

/** The same format as the upload (JPEG stays JPEG), near-lossless. */
function formatted(image: Sharp, mediaType: string): Sharp {
  switch (mediaType) {
    case "image/jpeg":
      return image.jpeg({ quality: 92, mozjpeg: true });
    case "image/png":
      return image.png();
    case "image/webp":
      return image.webp({ quality: 92 });
    case "image/avif":
      return image.avif({ quality: 70 });
    default:
      return image.gif();
  }
}
