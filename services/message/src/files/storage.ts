// Where the bytes of files live (issue 19): one interface, a directory under DATA_DIR
// (FILES_STORAGE=disk, the embedded default) or an S3-compatible bucket (FILES_STORAGE=s3).
// Keys are opaque to the backends ("files/<id>", "thumbnails/<id>", "link-images/<id>"); rows in
// the message database say which keys a message points to, and the sweeper removes the rest.
import type { Readable } from "node:stream";

export interface StoredObject {
  key: string;
  size: number;
  modified: Date;
}

export interface ByteRange {
  offset: number;
  /** Bytes from offset; the caller has checked offset + length <= size. */
  length: number;
}

export interface FileStorage {
  /** "disk" or "s3", for logs and health. */
  readonly kind: string;
  /** Stores a finished local file under `key` (streamed: never read whole into memory). */
  putFile(key: string, path: string, mediaType: string): Promise<void>;
  /** The bytes of `key` (or a range of them) as a stream; NOT_FOUND-worthy absence throws StorageNotFound. */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** Removes `key`; removing one that is not there is not an error. */
  delete(key: string): Promise<void>;
  /** Every object under `prefix`, for the orphan sweep. */
  list(prefix: string): AsyncIterable<StoredObject>;
}

export class StorageNotFound extends Error {
  override readonly name = "StorageNotFound";
  constructor(readonly key: string) {
    super(`no stored object ${key}`);
  }
}
