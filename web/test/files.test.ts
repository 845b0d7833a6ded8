// @vitest-environment happy-dom
// The web app's file logic (issue 19): sizes as people read them, the card's type, the box an
// image takes before it loads, pasted names; the signed-URL cache (one call per tick and variant,
// at most 200 ids a call, kept until shortly before expiry, asked once however many want it);
// the composer's attachment tray (progress, done, cancel aborts, removing a finished upload
// deletes it, errors per file, at most 10 files, Send waits while anything uploads).
import { describe, expect, it } from "vitest";
import { createAttachmentTray, MAX_FILES_PER_MESSAGE, type UploadFile } from "../src/lib/attachment-tray";
import { fileKind, fileTypeLabel, fitWithin, humanSize, pastedName } from "../src/lib/files";
import { createSignedUrlCache, EXPIRY_MARGIN_MS, MAX_BATCH, type FileVariant } from "../src/lib/signed-urls";
import type { FileInfo } from "../src/lib/types";

describe("human sizes", () => {
  it("shows bytes, then binary units with one decimal below 10", () => {
    expect(humanSize(0)).toBe("0 B");
    expect(humanSize(1023)).toBe("1023 B");
    expect(humanSize(1024)).toBe("1 KB");
    expect(humanSize(1536)).toBe("1.5 KB");
    expect(humanSize(10 * 1024 - 1)).toBe("10 KB");
    expect(humanSize(123 * 1024)).toBe("123 KB");
    expect(humanSize(50 * 1024 * 1024)).toBe("50 MB");
    expect(humanSize(2.25 * 1024 ** 3)).toBe("2.3 GB");
    expect(humanSize(5 * 1024 ** 5)).toBe("5120 TB");
  });

  it("shows nothing for a size that is not one", () => {
    expect(humanSize(-1)).toBe("");
    expect(humanSize(Number.NaN)).toBe("");
  });
});

describe("file types", () => {
  it("names the kind from the sniffed type first, then the extension", () => {
    expect(fileKind("application/pdf", "report.bin")).toBe("pdf");
    expect(fileKind("image/png", "x")).toBe("image");
    expect(fileKind("application/zip", "a.docx")).toBe("archive");
    expect(fileKind("application/octet-stream", "notes.md")).toBe("text");
    expect(fileKind("application/octet-stream", "sheet.xlsx")).toBe("spreadsheet");
    expect(fileKind("text/plain", "README")).toBe("text");
    expect(fileKind("application/octet-stream", "blob")).toBe("file");
  });

  it("labels a card: PDF, PNG image, ZIP archive, File", () => {
    expect(fileTypeLabel("application/pdf", "a.pdf")).toBe("PDF");
    expect(fileTypeLabel("image/png", "shot.png")).toBe("PNG image");
    expect(fileTypeLabel("application/zip", "src.zip")).toBe("ZIP archive");
    expect(fileTypeLabel("application/octet-stream", "data.bin")).toBe("BIN file");
    expect(fileTypeLabel("application/octet-stream", "data")).toBe("File");
  });
});

describe("the box of an inline image", () => {
  it("keeps its proportions, scaled down to fit, never up", () => {
    expect(fitWithin(1920, 1080, 360)).toEqual({ width: 360, height: 203 });
    expect(fitWithin(1080, 1920, 360)).toEqual({ width: 203, height: 360 });
    expect(fitWithin(120, 80, 360)).toEqual({ width: 120, height: 80 });
    expect(fitWithin(4000, 10, 360)).toEqual({ width: 360, height: 1 });
  });

  it("has a box even without a size (an image the server could not measure)", () => {
    expect(fitWithin(0, 0, 360)).toEqual({ width: 360, height: 270 });
  });
});

describe("pasted names", () => {
  it("names a screenshot by its time, keeps a real name", () => {
    const at = new Date(2026, 11, 4, 9, 5, 7);
    expect(pastedName({ name: "image.png", type: "image/png" }, at)).toBe("Pasted image 2026-12-04 09.05.07.png");
    expect(pastedName({ name: "", type: "image/jpeg" }, at)).toBe("Pasted image 2026-12-04 09.05.07.jpg");
    expect(pastedName({ name: "diagram.png", type: "image/png" }, at)).toBe("diagram.png");
  });
});

describe("the signed-URL cache", () => {
  function harness(options: { leaveOut?: Set<string>; ttlMs?: number } = {}) {
    const calls: { ids: string[]; variant: FileVariant }[] = [];
    const ticks: (() => void)[] = [];
    let clock = 1_000_000;
    const ttl = options.ttlMs ?? 600_000;
    const cache = createSignedUrlCache({
      now: () => clock,
      schedule: (run) => ticks.push(run),
      sign: async (ids, variant) => {
        calls.push({ ids, variant });
        return ids.filter((id) => !options.leaveOut?.has(id)).map((id) => ({ fileId: id, url: `/f/${id}/${variant}?t=${clock}`, expiresAt: clock + ttl }));
      },
    });
    const tick = async () => {
      for (const run of ticks.splice(0)) run();
      await new Promise((r) => setTimeout(r, 0));
    };
    return { cache, calls, tick, advance: (ms: number) => (clock += ms) };
  }

  it("asks once per tick and variant for everything asked in it", async () => {
    const { cache, calls, tick } = harness();
    const asked = [cache.get("a"), cache.get("b"), cache.get("a"), cache.get("c", "thumbnail")];
    await tick();
    const urls = await Promise.all(asked);
    expect(calls).toEqual([
      { ids: ["a", "b"], variant: "original" },
      { ids: ["c"], variant: "thumbnail" },
    ]);
    expect(urls[0]).toBe(urls[2]);
    expect(urls[3]).toContain("/f/c/thumbnail");
  });

  it("splits a screen of more than 200 files into calls of at most 200", async () => {
    const { cache, calls, tick } = harness();
    const ids = Array.from({ length: MAX_BATCH * 2 + 5 }, (_, i) => `f${i}`);
    const asked = ids.map((id) => cache.get(id));
    await tick();
    await Promise.all(asked);
    expect(calls.map((c) => c.ids.length)).toEqual([MAX_BATCH, MAX_BATCH, 5]);
  });

  it("answers from the cache until shortly before expiry, then signs again", async () => {
    const { cache, calls, tick, advance } = harness({ ttlMs: 600_000 });
    const first = cache.get("a");
    await tick();
    const url = await first;
    expect(cache.peek("a")).toBe(url);
    advance(600_000 - EXPIRY_MARGIN_MS - 1);
    expect(await cache.get("a")).toBe(url);
    expect(calls).toHaveLength(1);
    advance(2);
    expect(cache.peek("a")).toBeUndefined();
    const again = cache.get("a");
    await tick();
    expect(await again).not.toBe(url);
    expect(calls).toHaveLength(2);
  });

  it("shares one call between asks made while it is on its way", async () => {
    const { cache, calls, tick } = harness();
    const first = cache.get("a");
    await tick();
    const second = cache.get("a");
    await tick();
    expect(await first).toBe(await second);
    expect(calls).toHaveLength(1);
  });

  it("answers undefined for a file the server left out, and asks again next time", async () => {
    const { cache, calls, tick } = harness({ leaveOut: new Set(["gone"]) });
    const asked = cache.get("gone");
    await tick();
    expect(await asked).toBeUndefined();
    const again = cache.get("gone");
    await tick();
    expect(await again).toBeUndefined();
    expect(calls).toHaveLength(2);
  });

  it("passes a failed call to every ask in it, and caches nothing", async () => {
    let fail = true;
    const ticks: (() => void)[] = [];
    const cache = createSignedUrlCache({
      schedule: (run) => ticks.push(run),
      sign: async (ids) => {
        if (fail) throw new Error("network");
        return ids.map((id) => ({ fileId: id, url: `/f/${id}`, expiresAt: Date.now() + 600_000 }));
      },
    });
    const asked = [cache.get("a"), cache.get("b")];
    for (const run of ticks.splice(0)) run();
    await expect(Promise.all(asked)).rejects.toThrow("network");
    fail = false;
    const again = cache.get("a");
    for (const run of ticks.splice(0)) run();
    expect(await again).toBe("/f/a");
  });
});

describe("the attachment tray", () => {
  const stored = (id: string, name: string, size: number): FileInfo => ({
    id,
    roomId: "r",
    uploaderId: "me",
    messageId: null,
    name,
    size,
    mediaType: "image/png",
    display: "image",
    width: 10,
    height: 10,
    animated: false,
    thumbnail: { width: 10, height: 10 },
    createdAt: "2026-12-04T10:00:00Z",
  });

  /** An upload the test finishes by hand: each file's progress, success, failure and abort. */
  function harness() {
    const uploads = new Map<string, { progress(loaded: number): void; finish(): void; fail(error: unknown): void; signal: AbortSignal }>();
    const deleted: string[] = [];
    const notes: string[] = [];
    let n = 0;
    const upload: UploadFile = (file, { signal, onProgress }) =>
      new Promise((resolve, reject) => {
        const id = `file-${++n}`;
        signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        uploads.set(file.name, {
          signal,
          progress: (loaded) => onProgress({ loaded, total: file.size }),
          finish: () => resolve(stored(id, file.name, file.size)),
          fail: reject,
        });
      });
    const tray = createAttachmentTray({
      upload,
      deleteUpload: async (id) => void deleted.push(id),
      describeError: (error) => (error as { status?: number }).status === 413 ? "Too large: files can be at most 50 MB." : String(error),
      notify: (text) => notes.push(text),
    });
    const file = (name: string, size = 100) => new File([new Uint8Array(size)], name, { type: "image/png" });
    const settle = () => new Promise((r) => setTimeout(r, 0));
    return { tray, uploads, deleted, notes, file, settle };
  }

  it("uploads what is added at once, with progress, and gives the finished files for the send", async () => {
    const { tray, uploads, file, settle } = harness();
    let changes = 0;
    tray.subscribe(() => changes++);
    tray.add([file("a.png", 200), file("b.png", 300)]);
    expect(tray.items().map((i) => [i.name, i.status])).toEqual([
      ["a.png", "uploading"],
      ["b.png", "uploading"],
    ]);
    expect(tray.uploading()).toBe(true);
    uploads.get("a.png")!.progress(50);
    expect(tray.items()[0]!.loaded).toBe(50);
    uploads.get("a.png")!.finish();
    await settle();
    expect(tray.items()[0]!.status).toBe("done");
    // Send waits while b uploads.
    expect(tray.uploading()).toBe(true);
    uploads.get("b.png")!.finish();
    await settle();
    expect(tray.uploading()).toBe(false);
    expect(tray.ready().map((f) => f.name)).toEqual(["a.png", "b.png"]);
    expect(changes).toBeGreaterThan(4);
  });

  it("cancelling an upload aborts it and leaves nothing; removing a finished one deletes it on the server", async () => {
    const { tray, uploads, deleted, file, settle } = harness();
    tray.add([file("a.png"), file("b.png")]);
    const [a, b] = tray.items();
    tray.remove(a!.key);
    expect(uploads.get("a.png")!.signal.aborted).toBe(true);
    uploads.get("b.png")!.finish();
    await settle();
    tray.remove(b!.key);
    await settle();
    expect(tray.items()).toEqual([]);
    expect(deleted).toEqual(["file-2"]);
  });

  it("deletes an upload that finished just as it was cancelled", async () => {
    // The last bytes had gone: the server answers with the file although the tray let it go.
    let finish!: () => void;
    const deleted: string[] = [];
    const tray = createAttachmentTray({
      upload: (file) => new Promise((resolve) => (finish = () => resolve(stored("late-1", file.name, file.size)))),
      deleteUpload: async (id) => void deleted.push(id),
      describeError: String,
    });
    tray.add([new File(["x"], "late.png", { type: "image/png" })]);
    tray.remove(tray.items()[0]!.key);
    finish();
    await new Promise((r) => setTimeout(r, 0));
    expect(tray.items()).toEqual([]);
    expect(deleted).toEqual(["late-1"]);
  });

  it("shows why a file failed (413 too large), keeps the others, and retries it", async () => {
    const { tray, uploads, file, settle } = harness();
    tray.add([file("huge.png"), file("ok.png")]);
    uploads.get("huge.png")!.fail({ status: 413 });
    uploads.get("ok.png")!.finish();
    await settle();
    const huge = tray.items()[0]!;
    expect(huge.status).toBe("failed");
    expect(huge.error).toBe("Too large: files can be at most 50 MB.");
    expect(tray.uploading()).toBe(false);
    expect(tray.ready().map((f) => f.name)).toEqual(["ok.png"]);
    tray.retry(huge.key);
    expect(tray.items()[0]!.status).toBe("uploading");
    uploads.get("huge.png")!.finish();
    await settle();
    expect(tray.ready().map((f) => f.name)).toEqual(["huge.png", "ok.png"]);
  });

  it("takes at most 10 files per message and says so", () => {
    const { tray, notes, file } = harness();
    tray.add(Array.from({ length: MAX_FILES_PER_MESSAGE + 2 }, (_, i) => file(`f${i}.png`)));
    expect(tray.items()).toHaveLength(MAX_FILES_PER_MESSAGE);
    expect(notes).toEqual([`At most ${MAX_FILES_PER_MESSAGE} files per message.`]);
  });

  it("after a send it empties without deleting (the message has the files)", async () => {
    const { tray, uploads, deleted, file, settle } = harness();
    tray.add([file("a.png")]);
    uploads.get("a.png")!.finish();
    await settle();
    tray.clear();
    await settle();
    expect(tray.items()).toEqual([]);
    expect(deleted).toEqual([]);
  });
});

describe("upload errors in the tray", async () => {
  const { uploadErrorText } = await import("../src/lib/file-api");
  it("says a file is too large with the server's limit in people's units", () => {
    expect(uploadErrorText({ status: 413, code: "PAYLOAD_TOO_LARGE", limit: "file-size", message: "a file may have at most 52428800 bytes" })).toBe(
      "Too large: files can be at most 50 MB.",
    );
    expect(uploadErrorText({ status: 413, message: "too big" })).toBe("Too large for this server.");
  });

  it("says when the quota is full, when the network is down, and passes other refusals on", () => {
    expect(uploadErrorText({ status: 413, limit: "quota", message: "your files would take more than your quota of 1048576 bytes (900 used)" })).toBe(
      "Over your storage quota (1 MB): delete some files first.",
    );
    expect(uploadErrorText({ status: 0, code: "NETWORK", message: "the upload did not reach the server" })).toBe("Cannot reach the server. Check your connection.");
    expect(uploadErrorText({ status: 403, code: "FORBIDDEN", message: "only admins may post in this room" })).toBe("Only admins may post in this room");
  });
});
