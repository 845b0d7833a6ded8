// The FileStorage contract, on both backends: disk and S3 (on s3rver), whatever the suite's mode.
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiskStorage } from "../src/files/disk-storage.js";
import { StorageNotFound } from "../src/files/storage.js";
import { testFileStorage, type TestFileStorage } from "./support/s3.js";

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe.each([
  { backend: "disk", s3: false },
  { backend: "s3", s3: true },
])("FileStorage on $backend", ({ s3 }) => {
  let world: TestFileStorage;
  let source: string;
  let work: string;
  const content = randomBytes(300_000);

  beforeAll(async () => {
    world = await testFileStorage({ s3 });
    work = await mkdtemp(join(tmpdir(), "parley-storage-test-"));
    source = join(work, "upload");
    await writeFile(source, content);
  });
  afterAll(async () => {
    await world?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("gives back exactly the bytes it was given", async () => {
    await world.storage.putFile("files/a", source, "application/octet-stream");
    const back = await bytesOf(await world.storage.read("files/a"));
    expect(createHash("sha256").update(back).digest("hex")).toBe(createHash("sha256").update(content).digest("hex"));
  });

  it("reads a range: the bytes from offset, length of them", async () => {
    await world.storage.putFile("files/b", source, "application/octet-stream");
    const part = await bytesOf(await world.storage.read("files/b", { offset: 1000, length: 5000 }));
    expect(part.equals(content.subarray(1000, 6000))).toBe(true);
    const tail = await bytesOf(await world.storage.read("files/b", { offset: content.length - 10, length: 10 }));
    expect(tail.equals(content.subarray(content.length - 10))).toBe(true);
  });

  it("lists what is under a prefix, with sizes, and nothing else", async () => {
    await world.storage.putFile("thumbnails/c", source, "image/webp");
    const files = await collect(world.storage.list("files/"));
    expect(files.map((o) => o.key).sort()).toEqual(["files/a", "files/b"]);
    expect(files.every((o) => o.size === content.length && o.modified instanceof Date)).toBe(true);
    expect((await collect(world.storage.list("thumbnails/"))).map((o) => o.key)).toEqual(["thumbnails/c"]);
  });

  it("deletes, after which a read is StorageNotFound and a second delete is no error", async () => {
    await world.storage.putFile("files/d", source, "application/octet-stream");
    await world.storage.delete("files/d");
    await expect(world.storage.read("files/d")).rejects.toBeInstanceOf(StorageNotFound);
    await world.storage.delete("files/d");
    expect((await collect(world.storage.list("files/"))).map((o) => o.key)).not.toContain("files/d");
  });

  it("answers StorageNotFound for a key never stored", async () => {
    await expect(world.storage.read("files/never")).rejects.toBeInstanceOf(StorageNotFound);
  });
});

describe("DiskStorage", () => {
  it("keeps its directories 0700 and its files 0600 (never world-readable)", async () => {
    const root = await mkdtemp(join(tmpdir(), "parley-disk-mode-"));
    try {
      const storage = await new DiskStorage(join(root, "files")).open();
      const source = join(root, "source");
      await writeFile(source, "hello", { mode: 0o644 });
      await storage.putFile("files/x", source, "text/plain");
      expect((await stat(join(root, "files"))).mode & 0o777).toBe(0o700);
      expect((await stat(join(root, "files", "files"))).mode & 0o777).toBe(0o700);
      expect((await stat(join(root, "files", "files", "x"))).mode & 0o777).toBe(0o600);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("refuses a key that would leave its directory", async () => {
    const root = await mkdtemp(join(tmpdir(), "parley-disk-keys-"));
    try {
      const storage = await new DiskStorage(root).open();
      await expect(storage.read("../etc/passwd")).rejects.toThrow(/not a storage key/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
