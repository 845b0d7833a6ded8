// The edge passes files through without holding them (issue 19): the structure that keeps its
// memory flat whatever a file's size, asserted on what is pulled and written, never on timing.
import { Readable, Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { contentDisposition, matchesEtag, parseRange, pipeChunks, UPLOAD_CHUNK_MAX_BYTES, uploadRequests } from "../src/api/files-http.js";

const MiB = 1024 * 1024;

/** A source of `total` bytes in pieces of `piece`, counting how many bytes it was asked for. */
function countingSource(total: number, piece: number) {
  const state = { produced: 0 };
  const stream = new Readable({
    highWaterMark: piece,
    read() {
      if (state.produced >= total) return void this.push(null);
      const size = Math.min(piece, total - state.produced);
      state.produced += size;
      this.push(Buffer.alloc(size, 7));
    },
  });
  return { stream, state };
}

describe("upload requests", () => {
  it("start with the header, then cut the bytes into chunks of at most 1 MiB", async () => {
    const source = [Buffer.alloc(2.5 * MiB, 1), Buffer.alloc(10, 2)];
    const requests = [];
    for await (const request of uploadRequests({ roomId: "r", name: "a.bin", size: BigInt(2.5 * MiB + 10) }, (async function* () { yield* source; })())) requests.push(request);
    expect(requests[0]).toEqual({ part: { case: "header", value: { roomId: "r", name: "a.bin", size: BigInt(2.5 * MiB + 10) } } });
    const chunks = requests.slice(1).map((r) => (r.part as { value: Uint8Array }).value.byteLength);
    expect(chunks).toEqual([MiB, MiB, 0.5 * MiB, 10]);
    expect(Math.max(...chunks)).toBeLessThanOrEqual(UPLOAD_CHUNK_MAX_BYTES);
  });

  it("read the request only as fast as the service takes the chunks (a 64 MiB file: never more than a few pieces ahead)", async () => {
    const piece = 64 * 1024;
    const { stream, state } = countingSource(64 * MiB, piece);
    const requests = uploadRequests({ roomId: "r", name: "big.bin", size: BigInt(64 * MiB) }, stream)[Symbol.asyncIterator]();
    await requests.next(); // the header
    let taken = 0;
    let furthestAhead = 0;
    for (;;) {
      const next = await requests.next();
      if (next.done) break;
      taken += (next.value.part as { value: Uint8Array }).value.byteLength;
      // What the source produced beyond what the service took is what the edge holds.
      furthestAhead = Math.max(furthestAhead, state.produced - taken);
    }
    expect(taken).toBe(64 * MiB);
    expect(furthestAhead).toBeLessThanOrEqual(4 * piece);
  });
});

describe("download chunks", () => {
  it("pull the next chunk from the service only after the client's socket took the last one", async () => {
    let pulled = 0;
    const chunks = Array.from({ length: 50 }, (_, i) => ({ part: { case: "chunk" as const, value: new Uint8Array(64 * 1024).fill(i) } }));
    const service: AsyncIterator<(typeof chunks)[number]> = {
      async next() {
        const value = chunks[pulled];
        if (!value) return { done: true, value: undefined };
        pulled++;
        return { done: false, value };
      },
    };
    // A client that takes one chunk and then stops reading until told.
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    let received = 0;
    const client = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        if (received === 64 * 1024) stalled.then(() => done());
        else done();
      },
    });
    const piping = pipeChunks(service, client);
    // The first write filled the socket's buffer: the edge waits for drain and asks the service for nothing more.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(pulled).toBe(1);
    release();
    await piping;
    expect(pulled).toBe(50);
    expect(received).toBe(50 * 64 * 1024);
  });
});

describe("download headers", () => {
  it("reads one byte range; several, malformed or reversed ranges are served whole", () => {
    expect(parseRange("bytes=0-99")).toEqual({ start: 0, end: 99 });
    expect(parseRange("bytes=100-")).toEqual({ start: 100 });
    expect(parseRange("bytes=-500")).toEqual({ suffix: 500 });
    for (const ignored of [undefined, "", "bytes=0-1,5-6", "items=0-1", "bytes=9-3", "bytes=-", "bytes=a-b"]) expect(parseRange(ignored), ignored).toBeUndefined();
  });

  it("names a file in Content-Disposition for every browser, in UTF-8 and as ASCII, never breaking the header", () => {
    expect(contentDisposition("attachment", "Größe 100%.pdf")).toBe(`attachment; filename="Gr__e 100_.pdf"; filename*=UTF-8''Gr%C3%B6%C3%9Fe%20100%25.pdf`);
    expect(contentDisposition("inline", `a"b\\c.png`)).toBe(`inline; filename="a_b_c.png"; filename*=UTF-8''a%22b%5Cc.png`);
    expect(contentDisposition("attachment", "x\r\nSet-Cookie: y")).not.toMatch(/[\r\n]/);
  });

  it("matches If-None-Match against the strong ETag (lists, weak forms and * too)", () => {
    expect(matchesEtag(`"abc"`, "abc")).toBe(true);
    expect(matchesEtag(`"x", W/"abc"`, "abc")).toBe(true);
    expect(matchesEtag("*", "abc")).toBe(true);
    expect(matchesEtag(`"abcd"`, "abc")).toBe(false);
    expect(matchesEtag(undefined, "abc")).toBe(false);
  });
});
