// FileStorage in a directory (FILES_STORAGE=disk, the embedded default: FILES_DIR, else
// <DATA_DIR>/files). Directories 0700 and files 0600: the bytes are served by the message
// service to members only, never by a web server reading the directory (Zulip's world-readable
// uploads, zulip/zulip #320). A put copies into a temporary name beside the target and renames
// it into place, so a reader never sees half a file and a crash leaves only a ".part-" file
// that the orphan sweep removes.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { copyFile, chmod, mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import { StorageNotFound, type ByteRange, type FileStorage, type StoredObject } from "./storage.js";

const DIRECTORY_MODE = 0o700;
const FILE_MODE = 0o600;

export class DiskStorage implements FileStorage {
  readonly kind = "disk";
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Creates the root (0700) if it is missing. */
  async open(): Promise<this> {
    await mkdir(this.root, { recursive: true, mode: DIRECTORY_MODE });
    return this;
  }

  // The type is the row's business: a file on disk has none.
  async putFile(key: string, path: string, _mediaType?: string): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true, mode: DIRECTORY_MODE });
    const part = join(dirname(target), `.part-${randomBytes(6).toString("hex")}`);
    try {
      await copyFile(path, part, constants.COPYFILE_EXCL);
      await chmod(part, FILE_MODE);
      await rename(part, target);
    } catch (error) {
      await rm(part, { force: true });
      throw error;
    }
  }

  async read(key: string, range?: ByteRange): Promise<Readable> {
    let handle;
    try {
      handle = await open(this.pathOf(key), "r");
    } catch (error) {
      if (isMissing(error)) throw new StorageNotFound(key);
      throw error;
    }
    if (range && range.length <= 0) {
      await handle.close();
      return Readable.from([]);
    }
    // The stream owns the handle from here (autoClose): a reader that stops early releases it on destroy.
    return handle.createReadStream(range ? { start: range.offset, end: range.offset + range.length - 1 } : {});
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    // Keys are "<kind>/<id>": walk the directory the prefix names, or the root.
    const directories = prefix.split("/").slice(0, -1);
    if (directories.some((part) => part === "" || part === "." || part === "..")) throw new Error(`not a storage prefix: ${JSON.stringify(prefix)}`);
    yield* this.walk(join(this.root, ...directories), prefix);
  }

  private async *walk(directory: string, prefix: string): AsyncIterable<StoredObject> {
    let entries;
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    for (const entry of entries) {
      const path = join(directory, entry.name);
      if (entry.isDirectory()) {
        yield* this.walk(path, prefix);
        continue;
      }
      const key = relative(this.root, path).split(sep).join("/");
      if (!key.startsWith(prefix)) continue;
      try {
        const info = await stat(path);
        yield { key, size: info.size, modified: info.mtime };
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
  }

  /** The path of a key, refusing one that would leave the root. */
  private pathOf(key: string): string {
    if (key === "" || key.includes("\0") || key.split("/").some((part) => part === "" || part === "." || part === "..")) {
      throw new Error(`not a storage key: ${JSON.stringify(key)}`);
    }
    return join(this.root, ...key.split("/"));
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}
