// What the files half of the message service is given (from the env in launch.ts, by tests directly).
import type { FileStorage } from "./storage.js";

export interface FilesConfig {
  storage: FileStorage;
  /** Where uploads are written while they arrive (FILES_TEMP_DIR). */
  tempDir: string;
  maxBytes: number;
  /** 0: no quota. */
  quotaBytes: number;
  stripExif: boolean;
  maxImagePixels: number;
  urlTtlSeconds: number;
  deleteGraceSeconds: number;
  unattachedTtlSeconds: number;
  /** Told when an upload has ended and its temporary files are gone (tests wait for it: no sleeps). */
  onUploadEnded?: (event: UploadEnded) => void;
}

/** The defaults of the FILES_* variables (env.ts reads them from here). */
export const FILES_DEFAULTS = {
  maxBytes: 52_428_800,
  quotaBytes: 0,
  stripExif: true,
  maxImagePixels: 100_000_000,
  urlTtlSeconds: 600,
  deleteGraceSeconds: 3600,
  unattachedTtlSeconds: 86_400,
  sweepSeconds: 300,
} as const;

/** A FilesConfig with the defaults over `storage` (tests and tools; the service reads the env). */
export function filesConfig(storage: FileStorage, tempDir: string, overrides: Partial<FilesConfig> = {}): FilesConfig {
  const { sweepSeconds: _sweep, ...defaults } = FILES_DEFAULTS;
  return { storage, tempDir, ...defaults, ...overrides };
}

export interface UploadEnded {
  fileId: string;
  outcome: "stored" | "failed";
}

/** A chunk of an upload: at most 1 MiB (file.proto). */
export const UPLOAD_CHUNK_MAX = 1024 * 1024;
/** Chunks of a download. */
export const READ_CHUNK = 256 * 1024;
/** SignFileUrls and GetFiles: ids per call. */
export const FILE_BATCH_MAX = 200;
/** SendMessage: files per message. */
export const ATTACHMENTS_MAX = 10;
/** ListRoomFiles pages. */
export const ROOM_FILES_PAGE = { default: 50, max: 100 };

export const storageKeys = {
  original: (id: string) => `files/${id}`,
  thumbnail: (id: string) => `thumbnails/${id}`,
};
