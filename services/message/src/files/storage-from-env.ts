// The FileStorage the settings name (FILES_STORAGE), and where uploads wait while they arrive.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiskStorage } from "./disk-storage.js";
import { S3Storage } from "./s3-storage.js";
import type { FileStorage } from "./storage.js";
import type { MessageEnv } from "../env.js";
import type { FilesConfig } from "./config.js";

type StorageEnv = Pick<
  MessageEnv,
  "FILES_STORAGE" | "FILES_DIR" | "DATA_DIR" | "S3_ENDPOINT" | "S3_REGION" | "S3_BUCKET" | "S3_ACCESS_KEY_ID" | "S3_SECRET_ACCESS_KEY" | "S3_FORCE_PATH_STYLE"
>;

export async function storageFromEnv(config: StorageEnv): Promise<FileStorage & { close?(): void }> {
  if (config.FILES_STORAGE === "s3") {
    return new S3Storage({
      endpoint: config.S3_ENDPOINT,
      region: config.S3_REGION,
      bucket: config.S3_BUCKET!,
      accessKeyId: config.S3_ACCESS_KEY_ID,
      secretAccessKey: config.S3_SECRET_ACCESS_KEY,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
    });
  }
  return new DiskStorage(config.FILES_DIR ?? join(config.DATA_DIR, "files")).open();
}

/** Uploads in progress: FILES_TEMP_DIR, else beside the data (os.tmpdir() when the database is in memory). */
export function tempDirFromEnv(config: Pick<MessageEnv, "FILES_TEMP_DIR" | "DATA_DIR">, dataDir: string): string {
  if (config.FILES_TEMP_DIR) return config.FILES_TEMP_DIR;
  if (dataDir.startsWith("memory://")) return join(tmpdir(), "parley-uploads");
  return join(config.DATA_DIR, "files-tmp");
}

/** The files settings of the message service, with its storage opened. */
export async function filesConfigFromEnv(config: MessageEnv, dataDir: string): Promise<{ files: FilesConfig; closeStorage(): void }> {
  const storage = await storageFromEnv(config);
  return {
    files: {
      storage,
      tempDir: tempDirFromEnv(config, dataDir),
      maxBytes: config.FILES_MAX_BYTES,
      quotaBytes: config.FILES_QUOTA_BYTES,
      stripExif: config.FILES_STRIP_EXIF,
      maxImagePixels: config.FILES_MAX_IMAGE_PIXELS,
      urlTtlSeconds: config.FILES_URL_TTL_SECONDS,
      deleteGraceSeconds: config.FILES_DELETE_GRACE_SECONDS,
      unattachedTtlSeconds: config.FILES_UNATTACHED_TTL_SECONDS,
    },
    closeStorage: () => storage.close?.(),
  };
}
