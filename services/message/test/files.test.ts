// Files (issue 19) through the message service's gRPC FileService and MessageService, next to a
// fake room service, on disk storage (embedded) or S3 on s3rver (PostgreSQL mode).
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { asUser, createLogger, createServiceClient, LIMIT_TRAILER, topics } from "@parley/kit";
import type { Event } from "@parley/proto/events/v1/events_pb";
import type { Message } from "@parley/proto/message/v1/message_pb";
import { testInternalAuth } from "@parley/kit/testing";
import { FileDisplay, FileService, FileVariant, type FileContentInfo, type UploadFileRequest } from "@parley/proto/file/v1/file_pb";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiskStorage, FileSweeper, type UploadEnded } from "../src/index.js";
import { FileServiceImpl } from "../src/files/service.js";
import { RoomGate, type RoomClient } from "../src/room-access.js";
import { Role } from "@parley/proto/room/v1/room_pb";
import { UrlSigner, URL_KEY_SECRET } from "../src/files/url-token.js";
import { startFakeRoomWorld, type FakeRoomWorld } from "./fake-room-world.js";

const MAX_BYTES = 2 * 1024 * 1024;
const QUOTA = 3 * 1024 * 1024;
const MAX_PIXELS = 2_000_000;

let world: FakeRoomWorld;
let files: ReturnType<typeof createServiceClient<typeof FileService>>;
/** Uploads that ended, in order (the service tells once its temporary files are gone). */
const ended: UploadEnded[] = [];
const endWaiters: ((event: UploadEnded) => void)[] = [];
const nextUploadEnd = () => new Promise<UploadEnded>((resolve) => endWaiters.push(resolve));

beforeAll(async () => {
  world = await startFakeRoomWorld({
    files: {
      maxBytes: MAX_BYTES,
      quotaBytes: QUOTA,
      maxImagePixels: MAX_PIXELS,
      deleteGraceSeconds: 0,
      onUploadEnded: (event) => {
        ended.push(event);
        endWaiters.splice(0).forEach((resolve) => resolve(event));
      },
    },
  });
  files = createServiceClient(FileService, world.messageAddress, { internalAuth: testInternalAuth("edge") });
});
afterAll(() => world?.stop());

async function* uploadRequests(roomId: string, name: string, bytes: Uint8Array, declared = bytes.length): AsyncGenerator<UploadFileRequest> {
  yield { part: { case: "header", value: { roomId, name, size: BigInt(declared) } } } as UploadFileRequest;
  for (let at = 0; at < bytes.length; at += 256 * 1024) {
    yield { part: { case: "chunk", value: bytes.subarray(at, at + 256 * 1024) } } as UploadFileRequest;
  }
}

async function upload(user: string, roomId: string, name: string, bytes: Uint8Array) {
  const { file } = await files.uploadFile(uploadRequests(roomId, name, bytes), asUser(user));
  return file!;
}

async function download(
  request: { fileId: string; variant?: FileVariant; offset?: bigint; length?: bigint; urlToken?: string },
  user?: string,
): Promise<{ info: FileContentInfo; bytes: Buffer }> {
  let info: FileContentInfo | undefined;
  const chunks: Buffer[] = [];
  for await (const response of files.readFile(request, user ? asUser(user) : {})) {
    if (response.part.case === "info") info = response.part.value;
    else if (response.part.case === "chunk") chunks.push(Buffer.from(response.part.value));
  }
  return { info: info!, bytes: Buffer.concat(chunks) };
}

const failureOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
};

async function storedKeys(): Promise<string[]> {
  const keys: string[] = [];
  for (const prefix of ["files/", "thumbnails/"]) for await (const object of world.filesConfig.storage.list(prefix)) keys.push(object.key);
  return keys;
}

async function roomWith(...memberCount: number[]) {
  const owner = await world.newUser();
  const members = await Promise.all(Array.from({ length: memberCount[0] ?? 1 }, () => world.newUser()));
  const roomId = await world.createRoom(owner, "private", members);
  return { owner, members, roomId };
}

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer();

describe("uploads and downloads", () => {
  it("stores an upload and gives it back, whole and by range, to a member of the room", async () => {
    const { owner, members, roomId } = await roomWith(1);
    const bytes = randomBytes(700_000);
    const file = await upload(owner, roomId, "data.bin", bytes);
    expect(file).toMatchObject({ roomId, uploaderId: owner, messageId: "", name: "data.bin", size: BigInt(bytes.length), mediaType: "application/octet-stream", display: FileDisplay.DOWNLOAD });
    await world.messages.sendMessage({ roomId, body: "", fileIds: [file.id] }, asUser(owner));
    const whole = await download({ fileId: file.id }, members[0]);
    expect(whole.bytes.equals(bytes)).toBe(true);
    expect(whole.info).toMatchObject({ name: "data.bin", totalSize: BigInt(bytes.length), offset: 0n, length: BigInt(bytes.length), etag: file.sha256 });
    const part = await download({ fileId: file.id, offset: 1000n, length: 300_000n }, members[0]);
    expect(part.bytes.equals(bytes.subarray(1000, 301_000))).toBe(true);
    expect(part.info).toMatchObject({ offset: 1000n, length: 300_000n, totalSize: BigInt(bytes.length) });
    expect((await failureOf(download({ fileId: file.id, offset: BigInt(bytes.length) }, members[0]))).code).toBe(Code.OutOfRange);
  });

  it("is NOT_FOUND for a non-member, exactly as for a random id", async () => {
    const { owner, roomId } = await roomWith(0);
    const stranger = await world.newUser();
    const file = await upload(owner, roomId, "a.txt", Buffer.from("hello"));
    await world.messages.sendMessage({ roomId, body: "see", fileIds: [file.id] }, asUser(owner));
    const theirs = await failureOf(download({ fileId: file.id }, stranger));
    const random = await failureOf(download({ fileId: crypto.randomUUID() }, stranger));
    expect(theirs.code).toBe(Code.NotFound);
    expect(theirs.rawMessage).toBe(random.rawMessage);
    expect((await files.getFiles({ fileIds: [file.id] }, asUser(stranger))).files).toEqual([]);
    expect((await files.signFileUrls({ fileIds: [file.id] }, asUser(stranger))).urls).toEqual([]);
    expect((await failureOf(files.listRoomFiles({ roomId }, asUser(stranger)))).code).toBe(Code.NotFound);
  });

  it("is NOT_FOUND for a kicked member at the very next call", async () => {
    const { owner, members, roomId } = await roomWith(1);
    const file = await upload(owner, roomId, "a.txt", Buffer.from("hello"));
    await world.messages.sendMessage({ roomId, body: "see", fileIds: [file.id] }, asUser(owner));
    expect((await download({ fileId: file.id }, members[0])).bytes.toString()).toBe("hello");
    await world.kick(roomId, owner, members[0]!);
    expect((await failureOf(download({ fileId: file.id }, members[0]))).code).toBe(Code.NotFound);
  });

  it("lets only its uploader read a file no message has taken", async () => {
    const { owner, members, roomId } = await roomWith(1);
    const file = await upload(owner, roomId, "draft.txt", Buffer.from("draft"));
    expect((await download({ fileId: file.id }, owner)).bytes.toString()).toBe("draft");
    expect((await failureOf(download({ fileId: file.id }, members[0]))).code).toBe(Code.NotFound);
  });

  it("refuses a file over FILES_MAX_BYTES at the header with RESOURCE_EXHAUSTED file-size", async () => {
    const { owner, roomId } = await roomWith(0);
    const error = await failureOf(files.uploadFile(uploadRequests(roomId, "big.bin", new Uint8Array(10), MAX_BYTES + 1), asUser(owner)));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.metadata.get(LIMIT_TRAILER)).toBe("file-size");
  });

  it("refuses bytes beyond the declared size, and a stream that ends short, with INVALID_ARGUMENT", async () => {
    const { owner, roomId } = await roomWith(0);
    const long = await failureOf(files.uploadFile(uploadRequests(roomId, "a.bin", randomBytes(1000), 500), asUser(owner)));
    expect(long.code).toBe(Code.InvalidArgument);
    const short = await failureOf(files.uploadFile(uploadRequests(roomId, "a.bin", randomBytes(500), 1000), asUser(owner)));
    expect(short.code).toBe(Code.InvalidArgument);
    expect(short.rawMessage).toMatch(/ended after 500/);
    async function* bigChunk(): AsyncGenerator<UploadFileRequest> {
      yield { part: { case: "header", value: { roomId, name: "a.bin", size: BigInt(MAX_BYTES) } } } as UploadFileRequest;
      yield { part: { case: "chunk", value: new Uint8Array(1024 * 1024 + 1) } } as UploadFileRequest;
    }
    const oversized = await failureOf(files.uploadFile(bigChunk(), asUser(owner)));
    expect(oversized.code).toBe(Code.InvalidArgument);
    expect(oversized.rawMessage).toMatch(/at most 1048576 bytes/);
  });

  it("refuses an upload over the user's quota with RESOURCE_EXHAUSTED quota", async () => {
    const { owner, roomId } = await roomWith(0);
    await upload(owner, roomId, "one.bin", randomBytes(MAX_BYTES - 1000));
    const error = await failureOf(files.uploadFile(uploadRequests(roomId, "two.bin", randomBytes(MAX_BYTES - 1000)), asUser(owner)));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.metadata.get(LIMIT_TRAILER)).toBe("quota");
  });

  it("refuses an upload to a room the caller is not in (NOT_FOUND) or an archived one", async () => {
    const { owner, roomId } = await roomWith(0);
    const stranger = await world.newUser();
    expect((await failureOf(files.uploadFile(uploadRequests(roomId, "a", Buffer.from("x")), asUser(stranger)))).code).toBe(Code.NotFound);
    await world.archive(roomId, owner);
    expect((await failureOf(files.uploadFile(uploadRequests(roomId, "a", Buffer.from("x")), asUser(owner)))).code).toBe(Code.FailedPrecondition);
  });

  it("cleans the name: no path separators or control characters", async () => {
    const { owner, roomId } = await roomWith(0);
    const file = await upload(owner, roomId, "../../etc/pass\u0007wd\u202Etxt.exe", Buffer.from("x"));
    expect(file.name).toBe("....etcpasswdtxt.exe");
    expect((await failureOf(files.uploadFile(uploadRequests(roomId, "/\\", Buffer.from("x")), asUser(owner)))).code).toBe(Code.InvalidArgument);
  });

  it("leaves nothing behind when the upload is cancelled mid-stream: no row, no object, no temp file", async () => {
    const { owner, roomId } = await roomWith(0);
    const abort = new AbortController();
    async function* cutOff(): AsyncGenerator<UploadFileRequest> {
      yield* uploadRequests(roomId, "killed.bin", randomBytes(512 * 1024), 1024 * 1024);
      abort.abort();
      await new Promise(() => {});
    }
    const before = await storedKeys();
    const ending = nextUploadEnd();
    const error = await failureOf(files.uploadFile(cutOff(), { ...asUser(owner), signal: abort.signal }));
    expect(error.code).toBe(Code.Canceled);
    const event = await ending;
    expect(event.outcome).toBe("failed");
    const [{ count }] = await world.db.em.fork().execute<[{ count: string }]>(`select count(*) as count from files where id = ?`, [event.fileId]);
    expect(Number(count)).toBe(0);
    expect(await storedKeys()).toEqual(before);
    expect((await readdir(world.filesConfig.tempDir)).filter((name) => name.startsWith(event.fileId))).toEqual([]);
  });
});

describe("a storage that fails", () => {
  it("makes the upload UNAVAILABLE, with no row and no temp file left", async () => {
    const { writeFile, mkdtemp } = await import("node:fs/promises");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = await mkdtemp(join(tmpdir(), "parley-broken-storage-"));
    // Its root is a regular file: every put fails (ENOTDIR), as a full or unmounted disk would.
    await writeFile(join(dir, "root"), "not a directory");
    const broken = new DiskStorage(join(dir, "root"));
    const owner = await world.newUser();
    const roomId = await world.createRoom(owner, "private");
    const rooms = { getMembership: async () => ({ membership: { roomId, userId: owner, role: Role.OWNER }, roomArchived: false }) } as unknown as RoomClient;
    const service = new FileServiceImpl(world.db, new RoomGate(rooms), { ...world.filesConfig, storage: broken, onUploadEnded: undefined });
    const log = createLogger("test", "silent");
    const ctx = { requestId: "r", caller: "edge", admin: false, userId: owner, signal: new AbortController().signal, log, setTrailer() {} };
    const error = await failureOf(service.uploadFile(uploadRequests(roomId, "a.txt", Buffer.from("hello")), ctx));
    expect(error.code).toBe(Code.Unavailable);
    const [{ count }] = await world.db.em.fork().execute<[{ count: string }]>(`select count(*) as count from files where uploader_id = ?`, [owner]);
    expect(Number(count)).toBe(0);
    expect(await readdir(world.filesConfig.tempDir)).toEqual([]);
  });
});

describe("types and images", () => {
  it("serves an HTML file named .png as a download, never as an image", async () => {
    const { owner, roomId } = await roomWith(0);
    const file = await upload(owner, roomId, "cat.png", Buffer.from("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"));
    expect(file.display).toBe(FileDisplay.DOWNLOAD);
    expect(file.mediaType).toBe("text/plain");
    expect(file.hasThumbnail).toBe(false);
  });

  it("serves an SVG as a download (it could run script)", async () => {
    const { owner, roomId } = await roomWith(0);
    const svg = `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>`;
    const file = await upload(owner, roomId, "logo.svg", Buffer.from(svg));
    expect(file.display).toBe(FileDisplay.DOWNLOAD);
    expect(file.mediaType.startsWith("image/")).toBe(false);
  });

  it("calls unknown bytes application/octet-stream and sniffs a PDF whatever its name", async () => {
    const { owner, roomId } = await roomWith(0);
    const unknown = await upload(owner, roomId, "x.txt", Buffer.from([0x00, 0x81, 0x90, 0xc3, 0x28, 0x00, 0x01]));
    expect(unknown.mediaType).toBe("application/octet-stream");
    const pdf = await upload(owner, roomId, "notes.jpg", Buffer.from("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n", "latin1"));
    expect(pdf).toMatchObject({ mediaType: "application/pdf", display: FileDisplay.DOWNLOAD });
  });

  it("shows audio as AUDIO (a player), from its bytes", async () => {
    const { owner, roomId } = await roomWith(0);
    // A WAV header and a little silence: 8 kHz, mono, 8-bit.
    const data = Buffer.alloc(800, 0x80);
    const header = Buffer.alloc(44);
    header.write("RIFF", 0);
    header.writeUInt32LE(36 + data.length, 4);
    header.write("WAVEfmt ", 8);
    header.writeUInt32LE(16, 16);
    header.writeUInt16LE(1, 20);
    header.writeUInt16LE(1, 22);
    header.writeUInt32LE(8000, 24);
    header.writeUInt32LE(8000, 28);
    header.writeUInt16LE(1, 32);
    header.writeUInt16LE(8, 34);
    header.write("data", 36);
    header.writeUInt32LE(data.length, 40);
    const file = await upload(owner, roomId, "beep.bin", Buffer.concat([header, data]));
    expect(file.display).toBe(FileDisplay.AUDIO);
    expect(file.mediaType).toMatch(/^audio\//);
  });

  it("measures an image and makes a WebP thumbnail of at most 480 x 480 that keeps its shape", async () => {
    const { owner, roomId } = await roomWith(0);
    const file = await upload(owner, roomId, "wide.png", await png(1200, 800));
    expect(file).toMatchObject({ mediaType: "image/png", display: FileDisplay.IMAGE, width: 1200, height: 800, hasThumbnail: true, thumbnailWidth: 480, thumbnailHeight: 320, animated: false });
    const thumbnail = await download({ fileId: file.id, variant: FileVariant.THUMBNAIL }, owner);
    expect(thumbnail.info).toMatchObject({ mediaType: "image/webp", display: FileDisplay.IMAGE });
    const meta = await sharp(thumbnail.bytes).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({ format: "webp", width: 480, height: 320 });
  });

  it("keeps an animated GIF's thumbnail animated", async () => {
    const { owner, roomId } = await roomWith(0);
    const frames = await Promise.all(
      [0, 120, 240].map((r) => sharp({ create: { width: 600, height: 300, channels: 3, background: { r, g: 0, b: 0 } } }).png().toBuffer()),
    );
    const gif = await sharp(frames, { join: { animated: true } }).gif({ delay: [100, 100, 100] }).toBuffer();
    const file = await upload(owner, roomId, "party.gif", gif);
    expect(file).toMatchObject({ mediaType: "image/gif", display: FileDisplay.IMAGE, animated: true, width: 600, height: 300, thumbnailWidth: 480, thumbnailHeight: 240 });
    const thumbnail = await download({ fileId: file.id, variant: FileVariant.THUMBNAIL }, owner);
    const meta = await sharp(thumbnail.bytes, { animated: true }).metadata();
    expect(meta.format).toBe("webp");
    expect(meta.pages).toBe(3);
  });

  it("removes EXIF (GPS included) from a JPEG, applies its orientation first, and gives its size after it", async () => {
    const { owner, roomId } = await roomWith(0);
    // Stored 600 x 300, shown turned a quarter (orientation 6), taken in Paris.
    const jpeg = await sharp({ create: { width: 600, height: 300, channels: 3, background: { r: 10, g: 120, b: 200 } } })
      .withMetadata({ orientation: 6 })
      .jpeg()
      .withExif({
        IFD0: { Make: "Parley Cam" },
        IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 24/1", GPSLongitudeRef: "E", GPSLongitude: "2/1 21/1 3/1" },
      })
      .toBuffer();
    const sent = await sharp(jpeg).metadata();
    expect(sent.orientation).toBe(6);
    // The GPS IFD pointer (tag 0x8825), in either byte order.
    const gpsPointer = (exif: Buffer | undefined) => !!exif && (exif.includes(Buffer.from([0x88, 0x25])) || exif.includes(Buffer.from([0x25, 0x88])));
    expect(gpsPointer(sent.exif)).toBe(true);
    const file = await upload(owner, roomId, "holiday.jpg", jpeg);
    expect(file).toMatchObject({ mediaType: "image/jpeg", width: 300, height: 600 });
    const back = await download({ fileId: file.id }, owner);
    const meta = await sharp(back.bytes).metadata();
    expect(meta.exif).toBeUndefined();
    expect(gpsPointer(meta.exif)).toBe(false);
    expect(back.bytes.includes(Buffer.from("Parley Cam"))).toBe(false);
    expect({ width: meta.width, height: meta.height, orientation: meta.orientation ?? 1 }).toEqual({ width: 300, height: 600, orientation: 1 });
    expect(back.info.etag).toBe(file.sha256);
    expect(BigInt(back.bytes.length)).toBe(file.size);
  });

  it("refuses an image over the pixel limit (a decompression bomb) with INVALID_ARGUMENT, storing nothing", async () => {
    const { owner, roomId } = await roomWith(0);
    const before = await storedKeys();
    const bomb = await png(2000, 1500);
    const error = await failureOf(files.uploadFile(uploadRequests(roomId, "bomb.png", bomb), asUser(owner)));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toMatch(/pixels/);
    expect(await storedKeys()).toEqual(before);
  });
});

describe("attachments", () => {
  it("attaches files in the order given, with an empty body allowed, and shows them on every read of the message", async () => {
    const { owner, members, roomId } = await roomWith(1);
    const a = await upload(owner, roomId, "a.txt", Buffer.from("a"));
    const b = await upload(owner, roomId, "b.png", await png(50, 40));
    const { message } = await world.messages.sendMessage({ roomId, body: "", fileIds: [b.id, a.id] }, asUser(owner));
    expect(message!.attachments.map((f) => [f.id, f.messageId])).toEqual([
      [b.id, message!.id],
      [a.id, message!.id],
    ]);
    const page = await world.messages.listMessages({ roomId }, asUser(members[0]!));
    expect(page.messages.at(-1)!.attachments.map((f) => f.name)).toEqual(["b.png", "a.txt"]);
    const changes = await world.messages.listChanges({ roomId, after: 0n }, asUser(members[0]!));
    expect(changes.messages.at(-1)!.attachments).toHaveLength(2);
    const reacted = await world.messages.addReaction({ messageId: message!.id, emoji: "👍" }, asUser(members[0]!));
    expect(reacted.message!.attachments).toHaveLength(2);
    const listed = await files.listRoomFiles({ roomId }, asUser(members[0]!));
    expect(listed.files.map((f) => f.id).sort()).toEqual([a.id, b.id].sort());
    const images = await files.listRoomFiles({ roomId, imagesOnly: true }, asUser(members[0]!));
    expect(images.files.map((f) => f.id)).toEqual([b.id]);
  });

  it("carries the attachments in threads, pins, mentions, search hits and the events after commit", async () => {
    const { owner, members, roomId } = await roomWith(1);
    const reader = members[0]!;
    const events: Event[] = [];
    const unsubscribe = await world.broker.subscribe(topics.room(roomId), (event) => events.push(event));
    try {
      const rootFile = await upload(owner, roomId, "root.txt", Buffer.from("root"));
      const tag = randomBytes(4).toString("hex");
      const { message: root } = await world.messages.sendMessage({ roomId, body: `zebra${tag} @room`, fileIds: [rootFile.id] }, asUser(owner));
      const replyFile = await upload(owner, roomId, "reply.txt", Buffer.from("reply"));
      const { message: reply } = await world.messages.sendMessage({ roomId, body: "in the thread", threadRootId: root!.id, fileIds: [replyFile.id] }, asUser(owner));
      expect(reply!.attachments.map((f) => f.id)).toEqual([replyFile.id]);
      const names = (m: Message | undefined) => m?.attachments.map((f) => f.name);
      expect(names((await world.messages.listMessages({ roomId, threadRootId: root!.id }, asUser(reader))).messages.at(-1))).toEqual(["reply.txt"]);
      expect(names((await world.messages.getThread({ rootId: root!.id }, asUser(owner))).thread!.root)).toEqual(["root.txt"]);
      expect(names((await world.messages.listThreads({ roomIds: [roomId] }, asUser(owner))).threads[0]?.root)).toEqual(["root.txt"]);
      await world.messages.pinMessage({ messageId: root!.id }, asUser(owner));
      expect(names((await world.messages.listPins({ roomId }, asUser(reader))).messages[0])).toEqual(["root.txt"]);
      expect(names((await world.messages.listMentions({ roomIds: [roomId] }, asUser(reader))).messages[0])).toEqual(["root.txt"]);
      expect(names((await world.messages.searchMessages({ query: `zebra${tag}` }, asUser(reader))).hits[0]?.message)).toEqual(["root.txt"]);
      const edited = await world.messages.editMessage({ messageId: root!.id, body: `zebra${tag} edited @room` }, asUser(owner));
      expect(names(edited.message)).toEqual(["root.txt"]);
      // Created (root), created (reply), edited (the root's thread summary), edited (pin), edited (text).
      await expect.poll(() => events.length).toBe(5);
      for (const event of events) expect((event.payload.value as { message: Message }).message.attachments.length).toBe(1);
    } finally {
      await unsubscribe();
    }
  });

  it("pages a room's files newest first", async () => {
    const { owner, roomId } = await roomWith(0);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const file = await upload(owner, roomId, `${i}.txt`, Buffer.from(String(i)));
      await world.messages.sendMessage({ roomId, body: `file ${i}`, fileIds: [file.id] }, asUser(owner));
      ids.push(file.id);
    }
    const first = await files.listRoomFiles({ roomId, limit: 2 }, asUser(owner));
    const second = await files.listRoomFiles({ roomId, limit: 2, pageToken: first.nextPageToken }, asUser(owner));
    expect([...first.files, ...second.files].map((f) => f.id)).toEqual([...ids].reverse());
    expect(second.nextPageToken).toBe("");
  });

  it("refuses someone else's file, another room's, and one already attached, naming it; the send stores nothing", async () => {
    const { owner, members, roomId } = await roomWith(1);
    const other = await world.createRoom(owner, "private", []);
    const theirs = await upload(members[0]!, roomId, "theirs.txt", Buffer.from("x"));
    const elsewhere = await upload(owner, other, "elsewhere.txt", Buffer.from("x"));
    const mine = await upload(owner, roomId, "mine.txt", Buffer.from("x"));
    const before = await world.messages.listMessages({ roomId }, asUser(owner));
    for (const fileId of [theirs.id, elsewhere.id]) {
      const error = await failureOf(world.messages.sendMessage({ roomId, body: "x", fileIds: [mine.id, fileId] }, asUser(owner)));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toContain(fileId);
    }
    expect((await world.messages.listMessages({ roomId }, asUser(owner))).lastSeq).toBe(before.lastSeq);
    await world.messages.sendMessage({ roomId, body: "x", fileIds: [mine.id] }, asUser(owner));
    const twice = await failureOf(world.messages.sendMessage({ roomId, body: "again", fileIds: [mine.id] }, asUser(owner)));
    expect(twice.code).toBe(Code.InvalidArgument);
    expect(twice.rawMessage).toContain(mine.id);
    expect((await failureOf(world.messages.sendMessage({ roomId, body: "", fileIds: [] }, asUser(owner)))).code).toBe(Code.InvalidArgument);
    const eleven = Array.from({ length: 11 }, () => crypto.randomUUID());
    expect((await failureOf(world.messages.sendMessage({ roomId, body: "x", fileIds: eleven }, asUser(owner)))).code).toBe(Code.InvalidArgument);
  });

  it("answers a retried send (same client_msg_id) with the original and its files", async () => {
    const { owner, roomId } = await roomWith(0);
    const file = await upload(owner, roomId, "a.txt", Buffer.from("a"));
    const first = await world.messages.sendMessage({ roomId, body: "hi", clientMsgId: "retry-1", fileIds: [file.id] }, asUser(owner));
    const again = await world.messages.sendMessage({ roomId, body: "hi", clientMsgId: "retry-1", fileIds: [file.id] }, asUser(owner));
    expect(again.duplicate).toBe(true);
    expect(again.message!.id).toBe(first.message!.id);
    expect(again.message!.attachments.map((f) => f.id)).toEqual([file.id]);
  });

  it("withdraws an unattached upload (DeleteUpload) but not an attached one or someone else's", async () => {
    const { owner, members, roomId } = await roomWith(1);
    const draft = await upload(owner, roomId, "draft.txt", Buffer.from("x"));
    expect((await failureOf(files.deleteUpload({ fileId: draft.id }, asUser(members[0]!)))).code).toBe(Code.NotFound);
    await files.deleteUpload({ fileId: draft.id }, asUser(owner));
    expect((await failureOf(download({ fileId: draft.id }, owner))).code).toBe(Code.NotFound);
    expect(await storedKeys()).not.toContain(`files/${draft.id}`);
    const sent = await upload(owner, roomId, "sent.txt", Buffer.from("x"));
    await world.messages.sendMessage({ roomId, body: "x", fileIds: [sent.id] }, asUser(owner));
    expect((await failureOf(files.deleteUpload({ fileId: sent.id }, asUser(owner)))).code).toBe(Code.FailedPrecondition);
  });

  it("takes a deleted message's files away at once and removes their bytes after the grace period", async () => {
    const { owner, members, roomId } = await roomWith(1);
    const file = await upload(owner, roomId, "photo.png", await png(100, 100));
    const { message } = await world.messages.sendMessage({ roomId, body: "look", fileIds: [file.id] }, asUser(owner));
    const { message: tombstone } = await world.messages.deleteMessage({ messageId: message!.id }, asUser(owner));
    expect(tombstone!.attachments).toEqual([]);
    expect((await failureOf(download({ fileId: file.id }, members[0]))).code).toBe(Code.NotFound);
    expect((await failureOf(download({ fileId: file.id }, owner))).code).toBe(Code.NotFound);
    expect((await world.messages.listMessages({ roomId }, asUser(owner))).messages.at(-1)!.attachments).toEqual([]);
    const sweeper = new FileSweeper(world.db, world.filesConfig, createLogger("test", "silent"));
    const result = await sweeper.sweep();
    expect(result.removed).toBeGreaterThanOrEqual(1);
    expect((await storedKeys()).filter((key) => key.endsWith(file.id))).toEqual([]);
  });
});

describe("the sweeper", () => {
  it("removes uploads no message took, objects no row points to, and stale temp files, once they are old enough", async () => {
    const { owner, roomId } = await roomWith(0);
    const draft = await upload(owner, roomId, "forgotten.txt", Buffer.from("x"));
    const orphanId = crypto.randomUUID();
    const { writeFile } = await import("node:fs/promises");
    const { join } = await import("node:path");
    const source = join(world.filesConfig.tempDir, "orphan-source");
    await writeFile(source, "left by a crash");
    await world.filesConfig.storage.putFile(`files/${orphanId}`, source, "text/plain");
    const sweeper = new FileSweeper(world.db, world.filesConfig, createLogger("test", "silent"));
    // Now: all of it is young (an upload may be in progress).
    await sweeper.sweep();
    expect(await storedKeys()).toEqual(expect.arrayContaining([`files/${draft.id}`, `files/${orphanId}`]));
    // Two days later: the unattached upload, the orphan and the temp file are gone; attached files stay.
    const later = new Date(Date.now() + 2 * 86_400_000);
    const result = await sweeper.sweep(later);
    expect(result.orphans).toBeGreaterThanOrEqual(1);
    expect(result.tempFiles).toBeGreaterThanOrEqual(1);
    const keys = await storedKeys();
    expect(keys).not.toContain(`files/${draft.id}`);
    expect(keys).not.toContain(`files/${orphanId}`);
    expect(await readdir(world.filesConfig.tempDir)).toEqual([]);
    const [{ unattached }] = await world.db.em.fork().execute<[{ unattached: string }]>(`select count(*) as unattached from files where message_id is null`);
    expect(Number(unattached)).toBe(0);
    const [{ attached }] = await world.db.em.fork().execute<[{ attached: string }]>(`select count(*) as attached from files where message_id is not null`);
    expect(Number(attached)).toBeGreaterThan(0);
    expect(keys.length).toBeGreaterThan(0);
  });
});

describe("signed URLs", () => {
  async function sentFile() {
    const { owner, members, roomId } = await roomWith(1);
    const file = await upload(owner, roomId, "pic.png", await png(600, 600));
    await world.messages.sendMessage({ roomId, body: "", fileIds: [file.id] }, asUser(owner));
    return { owner, member: members[0]!, roomId, file };
  }

  it("lets a member's token read the file with no user on the call, for its variant only", async () => {
    const { member, file } = await sentFile();
    const { urls } = await files.signFileUrls({ fileIds: [file.id, crypto.randomUUID()], variant: FileVariant.THUMBNAIL }, asUser(member));
    expect(urls.map((u) => [u.fileId, u.variant])).toEqual([[file.id, FileVariant.THUMBNAIL]]);
    const seconds = Number(urls[0]!.expireTime!.seconds) - Date.now() / 1000;
    expect(seconds).toBeGreaterThan(500);
    expect(seconds).toBeLessThanOrEqual(600);
    const thumbnail = await download({ fileId: file.id, variant: FileVariant.THUMBNAIL, urlToken: urls[0]!.token });
    expect(thumbnail.info.mediaType).toBe("image/webp");
    const wrongVariant = await failureOf(download({ fileId: file.id, variant: FileVariant.ORIGINAL, urlToken: urls[0]!.token }));
    expect(wrongVariant.code).toBe(Code.PermissionDenied);
  });

  it("refuses a forged token, an expired one and one for another file", async () => {
    const { member, file, owner, roomId } = await sentFile();
    const { urls } = await files.signFileUrls({ fileIds: [file.id] }, asUser(member));
    const token = urls[0]!.token;
    const forged = token.slice(0, -2) + (token.endsWith("AA") ? "BB" : "AA");
    expect((await failureOf(download({ fileId: file.id, urlToken: forged }))).code).toBe(Code.PermissionDenied);
    const [{ value: key }] = await world.db.em.fork().execute<[{ value: string }]>(`select value from service_secrets where name = ?`, [URL_KEY_SECRET]);
    const expired = new UrlSigner(key).sign({ fileId: file.id, variant: FileVariant.ORIGINAL, userId: member, expires: Math.floor(Date.now() / 1000) - 1 });
    expect((await failureOf(download({ fileId: file.id, urlToken: expired }))).code).toBe(Code.PermissionDenied);
    const another = await upload(owner, roomId, "other.txt", Buffer.from("x"));
    expect((await failureOf(download({ fileId: another.id, urlToken: token }))).code).toBe(Code.PermissionDenied);
  });

  it("reads as the token's user: NOT_FOUND once that user has left, and for a token made for a non-member", async () => {
    const { member, file, roomId, owner } = await sentFile();
    const { urls } = await files.signFileUrls({ fileIds: [file.id] }, asUser(member));
    const [{ value: key }] = await world.db.em.fork().execute<[{ value: string }]>(`select value from service_secrets where name = ?`, [URL_KEY_SECRET]);
    const stranger = await world.newUser();
    const strangers = new UrlSigner(key).sign({ fileId: file.id, variant: FileVariant.ORIGINAL, userId: stranger, expires: Math.floor(Date.now() / 1000) + 60 });
    expect((await failureOf(download({ fileId: file.id, urlToken: strangers }))).code).toBe(Code.NotFound);
    await world.kick(roomId, owner, member);
    expect((await failureOf(download({ fileId: file.id, urlToken: urls[0]!.token }))).code).toBe(Code.NotFound);
  });

  it("needs a user or a token", async () => {
    const { file } = await sentFile();
    expect((await failureOf(download({ fileId: file.id }))).code).toBe(Code.Unauthenticated);
  });
});

