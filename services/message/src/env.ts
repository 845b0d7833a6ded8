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
}).superRefine((config, ctx) => {
  if (config.FILES_STORAGE === "s3" && !config.S3_BUCKET) {
    ctx.addIssue({ code: "custom", path: ["S3_BUCKET"], message: "required with FILES_STORAGE=s3" });
  }
});
export type MessageEnv = z.infer<typeof messageEnv>;
