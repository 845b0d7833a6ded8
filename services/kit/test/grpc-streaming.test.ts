// Client- and server-streaming methods through the one bootstrap (issue 19: uploads, downloads):
// the same internal credential, onlyFrom, error mapping and deadlines as unary calls, and
// backpressure both ways through the typed clients (Connect over HTTP/2).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { FileService, type ReadFileResponse, type UploadFileRequest } from "@parley/proto/file/v1/file_pb";
import { createGrpcServer, createLogger, createServiceClient, fail, implement, LIMIT_TRAILER, requireUserId, type GrpcServer, type ServiceHandlers } from "../src/index.js";
import { InternalAuth } from "../src/internal-auth.js";
import { TEST_INTERNAL_SECRET, testInternalAuth } from "../src/testing.js";

const log = createLogger("test", "silent");

/** Promise.withResolvers (Node 22) for Node 20. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
const CHUNK = 64 * 1024;
const CHUNKS = 256; // 16 MiB: far more than the HTTP/2 windows and buffers in between

/** What the server saw, for the tests to read. */
const seen = {
  uploadChunks: 0,
  /** Per chunk the server read: how many the client had produced by then. */
  uploadLeads: [] as number[],
  produced: 0,
  readEnded: [] as string[],
  /** Per response the server was allowed to make: how far ahead of the client it was. */
  downloadLeads: [] as number[],
  downloadProduced: 0,
  downloadConsumed: 0,
  cancelled: deferred<string>(),
};

function readHandler(): ServiceHandlers<typeof FileService>["readFile"] {
  return async function* (request, ctx) {
    requireUserId(ctx);
    if (request.fileId === "invalid") throw fail.invalidArgument("file_id", "not a file id");
    yield { part: { case: "info", value: { name: "f", totalSize: BigInt(CHUNK * CHUNKS) } } };
    if (request.fileId === "fails-late") throw fail.tooLarge("too big after all", "file-size");
    if (request.fileId === "waits") {
      // Waits for the caller to go (deadline or cancel): a handler learns it from ctx.signal.
      await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      seen.readEnded.push(String((ctx.signal.reason as Error).message));
      return;
    }
    for (let i = 0; i < CHUNKS; i++) {
      seen.downloadProduced++;
      seen.downloadLeads.push(seen.downloadProduced - seen.downloadConsumed);
      yield { part: { case: "chunk", value: new Uint8Array(CHUNK) } };
    }
  };
}

const handlers = {
  async uploadFile(requests, ctx) {
    requireUserId(ctx);
    let bytes = 0;
    try {
      for await (const request of requests) {
        if (request.part.case === "header" && request.part.value.name === "refuse") throw fail.tooLarge("over the quota", "quota");
        if (request.part.case !== "chunk") continue;
        seen.uploadChunks++;
        seen.uploadLeads.push(seen.produced - seen.uploadChunks);
        bytes += request.part.value.length;
        // A slow reader: a turn of the event loop per chunk, so a client without backpressure runs ahead.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      if (ctx.signal.aborted) seen.cancelled.resolve(String((ctx.signal.reason as Error).message));
      throw error;
    }
    return { file: { id: "stored", size: BigInt(bytes) } };
  },
  readFile: readHandler(),
  async signFileUrls() {
    return { urls: [] };
  },
  async getFiles() {
    return { files: [] };
  },
  async listRoomFiles() {
    return { files: [], nextPageToken: "" };
  },
  async deleteUpload() {
    return {};
  },
  async *readLinkImage() {
    yield { part: { case: "info", value: { name: "image.webp" } } };
  },
} satisfies ServiceHandlers<typeof FileService>;

let server: GrpcServer;
let address: string;
const internalAuth = testInternalAuth("edge");
const asUser = { headers: { "x-user-id": "u1" } };

beforeAll(async () => {
  server = createGrpcServer({
    name: "files",
    log,
    internalAuth,
    services: [implement(FileService, handlers, { onlyFrom: { readLinkImage: ["edge"] } })],
  });
  address = `127.0.0.1:${await server.listen(0)}`;
});
afterAll(async () => {
  await server.shutdown(1000);
});

async function* upload(chunks: number, header = "f"): AsyncGenerator<UploadFileRequest> {
  yield { part: { case: "header", value: { roomId: "r", name: header, size: BigInt(chunks * CHUNK) } } } as UploadFileRequest;
  for (let i = 0; i < chunks; i++) {
    seen.produced++;
    yield { part: { case: "chunk", value: new Uint8Array(CHUNK) } } as UploadFileRequest;
  }
}

describe("client-streaming methods", () => {
  it("receive every request and answer once", async () => {
    const client = createServiceClient(FileService, address, { internalAuth });
    seen.produced = 0;
    seen.uploadChunks = 0;
    seen.uploadLeads = [];
    const answer = await client.uploadFile(upload(CHUNKS), asUser);
    expect(answer.file?.size).toBe(BigInt(CHUNK * CHUNKS));
    expect(seen.uploadChunks).toBe(CHUNKS);
  });

  it("pull the caller's requests only as fast as the handler reads them (backpressure)", () => {
    // Without backpressure the client would have produced all 256 chunks before the slow server read a few.
    expect(Math.max(...seen.uploadLeads)).toBeLessThan(CHUNKS / 2);
  });

  it("refuse a caller without the internal credential, before reading anything", async () => {
    const stranger = createServiceClient(FileService, address, { internalAuth: new InternalAuth("x".repeat(48), "edge") });
    const error = await stranger.uploadFile(upload(2), asUser).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unauthenticated);
  });

  it("map a handler's error, trailers included", async () => {
    const client = createServiceClient(FileService, address, { internalAuth });
    const error = ConnectError.from(await client.uploadFile(upload(1, "refuse"), asUser).catch((e: unknown) => e));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.rawMessage).toBe("over the quota");
    expect(error.metadata.get(LIMIT_TRAILER)).toBe("quota");
  });

  it("let the handler see a cancel as its request stream failing and its signal aborted", async () => {
    const client = createServiceClient(FileService, address, { internalAuth });
    seen.cancelled = deferred<string>();
    const abort = new AbortController();
    async function* cutOff(): AsyncGenerator<UploadFileRequest> {
      yield* upload(3);
      abort.abort();
      // Never ends by itself: only the cancel stops it.
      await new Promise(() => {});
    }
    const call = client.uploadFile(cutOff(), { ...asUser, signal: abort.signal }).catch((e: unknown) => ConnectError.from(e));
    expect(await seen.cancelled.promise).toMatch(/cancel/);
    expect(((await call) as ConnectError).code).toBe(Code.Canceled);
  });
});

describe("server-streaming methods", () => {
  it("stream every response to the end", async () => {
    const client = createServiceClient(FileService, address, { internalAuth });
    seen.downloadProduced = 0;
    seen.downloadConsumed = 0;
    seen.downloadLeads = [];
    const parts: ReadFileResponse["part"]["case"][] = [];
    for await (const response of client.readFile({ fileId: "f" }, asUser)) {
      parts.push(response.part.case);
      if (response.part.case === "chunk") {
        seen.downloadConsumed++;
        // A slow reader.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    expect(parts[0]).toBe("info");
    expect(parts.filter((p) => p === "chunk")).toHaveLength(CHUNKS);
  });

  it("produce responses only as fast as the caller reads them (backpressure)", () => {
    expect(Math.max(...seen.downloadLeads)).toBeLessThan(CHUNKS / 2);
  });

  it("map an error raised before the first response", async () => {
    const client = createServiceClient(FileService, address, { internalAuth });
    const error = await (async () => {
      for await (const _ of client.readFile({ fileId: "invalid" }, asUser)) void _;
    })().catch((e: unknown) => ConnectError.from(e));
    expect(error?.code).toBe(Code.InvalidArgument);
  });

  it("map an error raised after some responses, trailers included", async () => {
    const client = createServiceClient(FileService, address, { internalAuth });
    const got: string[] = [];
    const error = await (async () => {
      for await (const response of client.readFile({ fileId: "fails-late" }, asUser)) got.push(response.part.case ?? "");
    })().catch((e: unknown) => ConnectError.from(e));
    expect(got).toEqual(["info"]);
    expect(error?.code).toBe(Code.ResourceExhausted);
    expect(error?.metadata.get(LIMIT_TRAILER)).toBe("file-size");
  });

  it("end at the caller's deadline: the caller gets DEADLINE_EXCEEDED, the handler an aborted signal", async () => {
    const client = createServiceClient(FileService, address, { internalAuth });
    seen.readEnded = [];
    const error = await (async () => {
      for await (const _ of client.readFile({ fileId: "waits" }, { ...asUser, timeoutMs: 300 })) void _;
    })().catch((e: unknown) => ConnectError.from(e));
    expect(error?.code).toBe(Code.DeadlineExceeded);
    // The server's own deadline and the caller's cancel at its deadline race: either ends the handler.
    await expect.poll(() => seen.readEnded.length).toBe(1);
    expect(seen.readEnded[0]).toMatch(/^(deadline exceeded|cancelled by the caller)$/);
  });

  it("keep onlyFrom: a process not named is PERMISSION_DENIED", async () => {
    const fromRoom = createServiceClient(FileService, address, { internalAuth: new InternalAuth(TEST_INTERNAL_SECRET, "room") });
    const error = await (async () => {
      for await (const _ of fromRoom.readLinkImage({ imageId: "x" })) void _;
    })().catch((e: unknown) => ConnectError.from(e));
    expect(error?.code).toBe(Code.PermissionDenied);
    const fromEdge = createServiceClient(FileService, address, { internalAuth });
    const parts: string[] = [];
    for await (const response of fromEdge.readLinkImage({ imageId: "x" })) parts.push(response.part.case ?? "");
    expect(parts).toEqual(["info"]);
  });
});
