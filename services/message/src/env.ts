import { env, serviceEnvShape } from "@parley/kit";
import { z } from "zod";
import { FILES_DEFAULTS as D } from "./files/config.js";

const unsetIfEmpty = (value: unknown) => (value === "" ? undefined : value);
const whole = (fallback: number, min = 0) => z.preprocess(unsetIfEmpty, z.coerce.number().int().min(min).default(fallback));
const flag = (fallback: boolean) =>
  z.preprocess(
    unsetIfEmpty,
    z
      .enum(["true", "false", "1", "0"], { error: "expected true or false" })
      .default(fallback ? "true" : "false")
      .transform((value) => value === "true" || value === "1"),
  );
const optionalText = () => z.preprocess(unsetIfEmpty, z.string().optional());
const count = (fallback: number, min: number, max: number) => z.preprocess(unsetIfEmpty, z.coerce.number().int().min(min).max(max).default(fallback));

export const messageEnv = z.object({
  ...serviceEnvShape(3004),
  ROOM_SERVICE_ADDR: env.address("127.0.0.1:3003"),
  // @username mentions are resolved by the user service (issue 16).
  USER_SERVICE_ADDR: env.address("127.0.0.1:3002"),
  // --- files (issue 19; docs/files.md) ---
  /** Where the bytes live: a directory (disk, the default) or an S3-compatible bucket (s3). */
  FILES_STORAGE: z.preprocess(unsetIfEmpty, z.enum(["disk", "s3"]).default("disk")),
  /** The directory of disk storage; unset: <DATA_DIR>/files. Replicas must share it (one volume). */
  FILES_DIR: optionalText(),
  /** Where uploads are written while they arrive; unset: <DATA_DIR>/files-tmp (os.tmpdir() in memory mode). */
  FILES_TEMP_DIR: optionalText(),
  /** S3 storage: the service URL (unset: AWS for the region), region, bucket, credentials, path-style URLs. */
  S3_ENDPOINT: env.optionalUrl(["http", "https"]),
  S3_REGION: z.preprocess(unsetIfEmpty, z.string().default("us-east-1")),
  S3_BUCKET: optionalText(),
  S3_ACCESS_KEY_ID: optionalText(),
  S3_SECRET_ACCESS_KEY: optionalText(),
  S3_FORCE_PATH_STYLE: flag(false),
  /** Largest file in bytes (default 50 MB): more is RESOURCE_EXHAUSTED "file-size" (413 at the edge). */
  FILES_MAX_BYTES: whole(D.maxBytes, 1),
  /** Bytes of files a user may keep (0: no quota). */
  FILES_QUOTA_BYTES: whole(D.quotaBytes),
  /** Remove EXIF (location, camera) from uploaded images, after applying their orientation. */
  FILES_STRIP_EXIF: flag(D.stripExif),
  /** Largest image (width x height) decoded for its size and thumbnail: a decompression bomb fails cleanly. */
  FILES_MAX_IMAGE_PIXELS: whole(D.maxImagePixels, 1),
  /** Lifetime of a signed download URL (SignFileUrls). */
  FILES_URL_TTL_SECONDS: whole(D.urlTtlSeconds, 1),
  /** A deleted message's files are NOT_FOUND at once; their bytes are removed after this. */
  FILES_DELETE_GRACE_SECONDS: whole(D.deleteGraceSeconds),
  /** An upload no message took is removed after this. */
  FILES_UNATTACHED_TTL_SECONDS: whole(D.unattachedTtlSeconds, 1),
  /** How often the sweeper removes due files, orphans and stale temporary files (0: only at start). */
  FILES_SWEEP_SECONDS: whole(D.sweepSeconds),
  // --- link previews (issue 19, docs/files.md "Link previews") ---
  /** on: the server fetches the pages of the first links of each message (SSRF rules of docs/files.md); off: no outbound fetches. */
  LINK_PREVIEWS: z.preprocess(unsetIfEmpty, z.enum(["on", "off"]).default("on")),
  /**
   * Hosts the SSRF rules would refuse but the operator allows (an intranet wiki, the tests' local
   * pages on 127.0.0.1), comma-separated "host" (any port, http too, any address) or "host:port"
   * (that port only): the syntax of NOTIFY_PUSH_ALLOWED_HOSTS.
   */
  LINK_PREVIEW_ALLOWED_HOSTS: env.allowedHosts(),
  /** How many links of a message get a preview (the first ones). */
  LINK_PREVIEW_MAX_PER_MESSAGE: count(3, 0, 10),
  /** Each fetch (page, oEmbed document, image) as a whole, redirects included; connecting gets at most 5 s of it. */
  LINK_PREVIEW_TIMEOUT_MS: env.milliseconds(8_000),
  /** A page is read up to this many bytes and parsed as far as it came. */
  LINK_PREVIEW_MAX_BYTES: count(1024 * 1024, 1024, 64 * 1024 * 1024),
  /** A page's image larger than this is not re-hosted (the preview goes without it). */
  LINK_PREVIEW_IMAGE_MAX_BYTES: count(5 * 1024 * 1024, 1024, 64 * 1024 * 1024),
  /** How long a URL's preview is kept before its page is fetched again; a failure is kept a tenth of it (at most 10 minutes). */
  LINK_PREVIEW_CACHE_SECONDS: count(86_400, 0, 30 * 86_400),
}).superRefine((config, ctx) => {
  if (config.FILES_STORAGE === "s3" && !config.S3_BUCKET) {
    ctx.addIssue({ code: "custom", path: ["S3_BUCKET"], message: "required with FILES_STORAGE=s3" });
  }
});
export type MessageEnv = z.infer<typeof messageEnv>;
