export { build } from "./server.js";
export { launch } from "./launch.js";
export { initORM, type MessageDb } from "./db.js";
export { messageEnv, type MessageEnv } from "./env.js";
export { toMessage, type MessageDeps } from "./service.js";
export { BODY_MAX_CHARACTERS, BODY_RULE, CLIENT_MSG_ID_RULE, messageRules } from "./message-rules.js";
// The message store itself, for tools that work on it directly (bench/: seeding, the search's SQL).
export { Message, RoomHead, StoredFile, ThreadFollow, entities } from "./entities.js";
// Files (issue 19): the storage backends and the files settings, for tools and other packages' tests.
export { DiskStorage } from "./files/disk-storage.js";
export { S3Storage, type S3Settings } from "./files/s3-storage.js";
export { StorageNotFound, type FileStorage } from "./files/storage.js";
export { FILES_DEFAULTS, filesConfig, type FilesConfig, type UploadEnded } from "./files/config.js";
export { FileRepository } from "./files/repository.js";
export { FileSweeper, type SweepResult } from "./files/sweeper.js";
export { migrations } from "./migrations/index.js";
export { MessageRepository, RoomHeadRepository, SearchRepository, ThreadFollowRepository } from "./repositories.js";
export { planOf } from "./search.js";
// Link previews (issue 19): their data access, and the re-hosted images FileService.ReadLinkImage streams.
export { LinkPreviewRepository } from "./previews/repository.js";
export { LinkImages } from "./previews/link-images.js";
