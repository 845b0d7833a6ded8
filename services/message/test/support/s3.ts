/// <reference path="./s3rver.d.ts" />
// Object storage for tests: an s3rver (a local S3-compatible server) on a free port in a temp dir,
// with its bucket; and the storage a test file runs on: disk in the embedded mode, S3 on s3rver
// when the suite runs on PostgreSQL (PARLEY_TEST_DATABASE_URL), so the same tests cover both.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { TEST_DATABASE_URL } from "@parley/kit/testing";
// s3rver is CommonJS without types.
import S3rver from "s3rver";
import { DiskStorage } from "../../src/files/disk-storage.js";
import { S3Storage, type S3Settings } from "../../src/files/s3-storage.js";
import type { FileStorage } from "../../src/files/storage.js";

/** s3rver checks signatures against these. */
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

export interface TestS3 {
  settings: S3Settings;
  /** The message service's variables for this bucket (FILES_STORAGE=s3...). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts s3rver on 127.0.0.1 (a free port) in a fresh temp dir and creates a bucket. */
export async function startS3rver(): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), "parley-s3rver-"));
  const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true });
  const { port } = (await server.run()) as { address: string; port: number };
  const bucket = `parley-test-${randomBytes(4).toString("hex")}`;
  const settings: S3Settings = { endpoint: `http://127.0.0.1:${port}`, region: "us-east-1", bucket, forcePathStyle: true, ...CREDENTIALS };
  const client = new S3Client({ endpoint: settings.endpoint, region: settings.region, forcePathStyle: true, credentials: CREDENTIALS });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return {
    settings,
    env: {
      FILES_STORAGE: "s3",
      S3_ENDPOINT: settings.endpoint!,
      S3_REGION: settings.region,
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      S3_FORCE_PATH_STYLE: "true",
    },
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface TestFileStorage {
  storage: FileStorage;
  /** The message service's variables for this storage, plus a temp dir for uploads in progress. */
  env: Record<string, string>;
  /** The temp dir uploads are written to while they arrive (FILES_TEMP_DIR). */
  tempDir: string;
  stop(): Promise<void>;
}

/** Disk storage in a temp dir (embedded mode), or S3 on a fresh s3rver (PostgreSQL mode). */
export async function testFileStorage(options: { s3?: boolean } = {}): Promise<TestFileStorage> {
  const tempDir = await mkdtemp(join(tmpdir(), "parley-uploads-"));
  if (options.s3 ?? TEST_DATABASE_URL !== undefined) {
    const s3 = await startS3rver();
    const storage = new S3Storage(s3.settings);
    return {
      storage,
      tempDir,
      env: { ...s3.env, FILES_TEMP_DIR: tempDir },
      async stop() {
        storage.close();
        await s3.stop();
        await rm(tempDir, { recursive: true, force: true });
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), "parley-files-"));
  return {
    storage: await new DiskStorage(dir).open(),
    tempDir,
    env: { FILES_STORAGE: "disk", FILES_DIR: dir, FILES_TEMP_DIR: tempDir },
    async stop() {
      await rm(dir, { recursive: true, force: true });
      await rm(tempDir, { recursive: true, force: true });
    },
  };
}
