// Files through the edge (issue 19), end to end on the real message service and storage (disk in
// the embedded mode, s3rver with PostgreSQL): upload, download by a member with a bearer token or a
// signed URL, 404 for everyone else (a kicked member at once), types sniffed and served safely,
// size limits (413), ranges, ETags, and a cut-off upload that leaves nothing behind.
import { readdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testFileStorage, type TestFileStorage } from "@parley/launch/testing";
import { uploadFile, UploadError } from "@parley/client";
import { FILE_CSP } from "../src/api/files-http.js";
import { BOUNDARY, multipart, png, rawPost } from "./files-fixtures.js";
import { ok, roomWithMembers, startTestEdge, type Account, type TestEdge } from "./harness.js";

/** Small enough that the 413 cases send little. */
const MAX_BYTES = 256 * 1024;
const MISSING = "01900000-0000-7000-8000-000000000000";

let edge: TestEdge;
let files: TestFileStorage;
/** A local site with an Open Graph page and its image, allowed for link previews (LINK_PREVIEW_ALLOWED_HOSTS). */
let site: Server;
let siteOrigin: string;
beforeAll(async () => {
  files = await testFileStorage();
  site = createServer((req, res) => {
    if (req.url === "/og.png") return void res.writeHead(200, { "content-type": "image/png" }).end(png(120, 60));
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(
      `<!doctype html><html><head><title>Fallback</title><meta property="og:title" content="The <b>launch</b> notes"><meta property="og:description" content="What shipped"><meta property="og:site_name" content="Example"><meta property="og:image" content="${siteOrigin}/og.png"></head><body>hi</body></html>`,
    );
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  siteOrigin = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
  edge = await startTestEdge({
    ...files.env,
    FILES_MAX_BYTES: String(MAX_BYTES),
    RATE_SEND_PER_10S_USER: "1000",
    RATE_SEND_PER_10S_ADDRESS: "1000",
    LINK_PREVIEWS: "on",
    LINK_PREVIEW_ALLOWED_HOSTS: new URL(siteOrigin).host,
  });
}, 120_000);
afterAll(async () => {
  await edge?.stop();
  await files?.stop();
  await new Promise((resolve) => site?.close(resolve));
});

/** Uploads through @parley/client's helper (Node: a streamed fetch). */
function upload(who: Account, roomId: string, bytes: Buffer, name: string) {
  return uploadFile({ baseUrl: edge.base, roomId, file: new Blob([bytes]), name, token: who.accessToken });
}

async function download(path: string, options: { token?: string; headers?: Record<string, string>; method?: string } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(`${edge.base}${path}`, { method: options.method ?? "GET", headers });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString("utf8")) };
}

async function storedKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of files.storage.list(prefix)) keys.push(object.key);
  return keys;
}

describe("uploading and downloading a file", () => {
  it("stores a member's PNG (type sniffed, size and thumbnail known), attaches it at send and serves it to members", async () => {
    const alice = await edge.signUp("fa");
    const bob = await edge.signUp("fb");
    const roomId = await roomWithMembers(edge, alice, [bob]);
    const image = png(64, 48);
    const progress: number[] = [];
    const file = await uploadFile({ baseUrl: edge.base, roomId, file: new Blob([image]), name: "Blue sky ☁.png", token: alice.accessToken, onProgress: (p) => progress.push(p.loaded) });
    expect(file).toMatchObject({ roomId, uploaderId: alice.user.id, messageId: null, name: "Blue sky ☁.png", size: image.length, mediaType: "image/png", display: "image", width: 64, height: 48, animated: false });
    expect(file.thumbnail).toMatchObject({ width: expect.any(Number), height: expect.any(Number) });
    expect(Object.keys(file).sort()).toEqual(["animated", "createdAt", "display", "height", "id", "mediaType", "messageId", "name", "roomId", "size", "thumbnail", "uploaderId", "width"]);
    expect(progress.at(-1)).toBeGreaterThan(image.length);

    // Unattached, only the uploader sees it.
    expect((await edge.api("GET", `/api/v1/files/${file.id}`, { token: alice.accessToken })).status).toBe(200);
    expect((await edge.api("GET", `/api/v1/files/${file.id}`, { token: bob.accessToken })).status).toBe(404);

    const message = await ok(edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId, fileIds: [file.id] } }), 201);
    expect(message.body).toBe("");
    expect(message.attachments).toEqual([{ ...file, messageId: message.id }]);
    expect(message.linkPreviews).toEqual([]);
    const history = await ok(edge.api("GET", `/api/v1/messages/${roomId}`, { token: bob.accessToken }));
    expect(history.messages.at(-1).attachments.map((a: { id: string }) => a.id)).toEqual([file.id]);
    const listed = await ok(edge.api("GET", `/api/v1/rooms/${roomId}/files?imagesOnly=true`, { token: bob.accessToken }));
    expect(listed).toEqual({ files: [{ ...file, messageId: message.id }], nextCursor: null });

    const got = await download(`/api/v1/files/${file.id}/content`, { token: bob.accessToken });
    expect(got.status).toBe(200);
    expect(got.bytes.equals(image)).toBe(true);
    expect(got.headers.get("content-type")).toBe("image/png");
    expect(got.headers.get("content-disposition")).toBe(`inline; filename="Blue sky _.png"; filename*=UTF-8''Blue%20sky%20%E2%98%81.png`);
    expect(got.headers.get("x-content-type-options")).toBe("nosniff");
    expect(got.headers.get("content-security-policy")).toBe(FILE_CSP);
    expect(got.headers.get("cross-origin-resource-policy")).toBe("same-origin");
    expect(got.headers.get("cache-control")).toMatch(/^private/);
    expect(got.headers.get("accept-ranges")).toBe("bytes");
    expect(got.headers.get("etag")).toMatch(/^"[0-9a-f]{64}"$/);

    const thumbnail = await download(`/api/v1/files/${file.id}/thumbnail`, { token: bob.accessToken });
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get("content-type")).toBe("image/webp");
    expect(thumbnail.bytes.subarray(8, 12).toString("ascii")).toBe("WEBP");
    expect(thumbnail.headers.get("content-security-policy")).toBe(FILE_CSP);
  });

  it("serves a signed URL without a bearer token to a member, cached no longer than it lives, and refuses a tampered, another file's or another variant's token alike (403)", async () => {
    const alice = await edge.signUp("sa");
    const roomId = await roomWithMembers(edge, alice, []);
    const first = await upload(alice, roomId, png(8, 8), "one.png");
    const second = await upload(alice, roomId, png(9, 9), "two.png");
    await ok(edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId, body: "two files", fileIds: [first.id, second.id] } }), 201);
    const signed = await edge.trpc(alice.accessToken).files.signUrls.mutate({ fileIds: [first.id, second.id, MISSING] });
    expect(signed.urls.map((u) => u.fileId).sort()).toEqual([first.id, second.id].sort());
    const url = signed.urls.find((u) => u.fileId === first.id)!;
    expect(url.url).toMatch(new RegExp(`^/api/v1/files/${first.id}/content\\?token=[^&]+&expires=\\d+$`));
    expect(Date.parse(url.expiresAt)).toBeGreaterThan(Date.now());
    const got = await download(url.url);
    expect(got.status).toBe(200);
    expect(got.bytes.equals(png(8, 8))).toBe(true);
    const maxAge = Number(/^private, max-age=(\d+)$/.exec(got.headers.get("cache-control") ?? "")?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(Date.now() + maxAge * 1000).toBeLessThanOrEqual(Date.parse(url.expiresAt) + 1000);

    const token = new URL(url.url, edge.base).searchParams.get("token")!;
    // A token works for its file, its variant and its user only: any other use is one refusal, alike for every id.
    const random = await download(`/api/v1/files/${MISSING}/content?token=${encodeURIComponent(token)}`);
    expect(random.status).toBe(403);
    const flipped = token.slice(0, -2) + (token.at(-2) === "A" ? "B" : "A") + token.at(-1);
    for (const path of [
      `/api/v1/files/${first.id}/content?token=${encodeURIComponent(flipped)}`,
      `/api/v1/files/${second.id}/content?token=${encodeURIComponent(token)}`,
      `/api/v1/files/${first.id}/thumbnail?token=${encodeURIComponent(token)}`,
      `/api/v1/files/${first.id}/content?token=`,
    ]) {
      const refused = await download(path);
      expect(refused.status, path).toBe(403);
      expect(refused.json(), path).toEqual(random.json());
    }
    // REST: the same procedure.
    const rest = await ok(edge.api("POST", "/api/v1/files/signed-urls", { token: alice.accessToken, body: { fileIds: [second.id], variant: "thumbnail" } }));
    expect(rest.urls).toEqual([expect.objectContaining({ fileId: second.id, variant: "thumbnail", url: expect.stringMatching(`^/api/v1/files/${second.id}/thumbnail\\?token=`) })]);
    expect((await download(rest.urls[0].url)).headers.get("content-type")).toBe("image/webp");
  });

  it("answers a non-member 404 like a random id, and a kicked member 404 at once, by bearer and by a URL signed before the kick", async () => {
    const alice = await edge.signUp("ka");
    const bob = await edge.signUp("kb");
    const mallory = await edge.signUp("km");
    const roomId = await roomWithMembers(edge, alice, [bob]);
    const file = await upload(alice, roomId, png(4, 4), "secret.png");
    await ok(edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId, body: "", fileIds: [file.id] } }), 201);
    const random = await download(`/api/v1/files/${MISSING}/content`, { token: mallory.accessToken });
    expect(random.status).toBe(404);
    for (const path of [`/api/v1/files/${file.id}/content`, `/api/v1/files/${file.id}/thumbnail`]) {
      const refused = await download(path, { token: mallory.accessToken });
      expect(refused.status, path).toBe(404);
      expect(refused.json(), path).toEqual(random.json());
    }
    expect((await edge.api("GET", `/api/v1/files/${file.id}`, { token: mallory.accessToken })).json).toEqual((await edge.api("GET", `/api/v1/files/${MISSING}`, { token: mallory.accessToken })).json);
    expect((await edge.api("GET", `/api/v1/rooms/${roomId}/files`, { token: mallory.accessToken })).status).toBe(404);
    expect((await edge.trpc(mallory.accessToken).files.signUrls.mutate({ fileIds: [file.id] })).urls).toEqual([]);
    expect((await download(`/api/v1/files/${file.id}/content`)).status).toBe(401);

    const { urls } = await edge.trpc(bob.accessToken).files.signUrls.mutate({ fileIds: [file.id] });
    expect((await download(urls[0]!.url)).status).toBe(200);
    expect((await download(`/api/v1/files/${file.id}/content`, { token: bob.accessToken })).status).toBe(200);
    expect((await edge.api("DELETE", `/api/v1/rooms/${roomId}/members/${bob.user.id}`, { token: alice.accessToken })).status).toBe(204);
    const byBearer = await download(`/api/v1/files/${file.id}/content`, { token: bob.accessToken });
    const bySignedUrl = await download(urls[0]!.url);
    expect([byBearer.status, bySignedUrl.status]).toEqual([404, 404]);
    expect(byBearer.json()).toEqual(random.json());
    expect(bySignedUrl.json()).toEqual(random.json());
  });

  it("serves an HTML file named .png and an SVG as attachments, never as images, with the sandbox", async () => {
    const alice = await edge.signUp("ha");
    const roomId = await roomWithMembers(edge, alice, []);
    const html = await upload(alice, roomId, Buffer.from("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"), "cat.png");
    expect(html).toMatchObject({ display: "download", thumbnail: null, width: null });
    expect(html.mediaType).not.toMatch(/^image\//);
    const svg = await upload(alice, roomId, Buffer.from(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>`), "logo.svg");
    expect(svg).toMatchObject({ display: "download", thumbnail: null });
    for (const file of [html, svg]) {
      const got = await download(`/api/v1/files/${file.id}/content`, { token: alice.accessToken });
      expect(got.status).toBe(200);
      expect(got.headers.get("content-type")).not.toMatch(/^image\//);
      expect(got.headers.get("content-disposition")).toMatch(/^attachment; /);
      expect(got.headers.get("content-security-policy")).toBe(FILE_CSP);
      expect(got.headers.get("x-content-type-options")).toBe("nosniff");
      expect((await download(`/api/v1/files/${file.id}/thumbnail`, { token: alice.accessToken })).status).toBe(404);
    }
  });

  it("answers ranges 206 with Content-Range (suffix ranges too), a range past the end 416, a matching ETag 304, and HEAD without a body", async () => {
    const alice = await edge.signUp("ra");
    const roomId = await roomWithMembers(edge, alice, []);
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join(""));
    const file = await upload(alice, roomId, bytes, "lines.txt");
    const path = `/api/v1/files/${file.id}/content`;
    const part = await download(path, { token: alice.accessToken, headers: { range: "bytes=10-19" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 10-19/${bytes.length}`);
    expect(part.bytes.equals(bytes.subarray(10, 20))).toBe(true);
    const open = await download(path, { token: alice.accessToken, headers: { range: `bytes=${bytes.length - 7}-` } });
    expect([open.status, open.bytes.toString()]).toEqual([206, bytes.subarray(-7).toString()]);
    const suffix = await download(path, { token: alice.accessToken, headers: { range: "bytes=-5" } });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get("content-range")).toBe(`bytes ${bytes.length - 5}-${bytes.length - 1}/${bytes.length}`);
    expect(suffix.bytes.equals(bytes.subarray(-5))).toBe(true);
    const past = await download(path, { token: alice.accessToken, headers: { range: `bytes=${bytes.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get("content-range")).toBe(`bytes */${bytes.length}`);

    const whole = await download(path, { token: alice.accessToken });
    const etag = whole.headers.get("etag")!;
    const cached = await download(path, { token: alice.accessToken, headers: { "if-none-match": etag } });
    expect(cached.status).toBe(304);
    expect(cached.bytes.length).toBe(0);
    expect((await download(path, { token: alice.accessToken, headers: { "if-none-match": `"other"` } })).status).toBe(200);
    const head = await download(path, { token: alice.accessToken, method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(bytes.length));
    expect(head.headers.get("etag")).toBe(etag);
  });
});

describe("upload limits and refusals", () => {
  it("answers 413 unread for a Content-Length over the declared size, and 413 file-size for a declared size over the limit, streamed without Content-Length", async () => {
    const alice = await edge.signUp("la");
    const roomId = await roomWithMembers(edge, alice, []);
    const url = `${edge.base}/api/v1/rooms/${roomId}/files`;
    const auth = { authorization: `Bearer ${alice.accessToken}`, "content-type": `multipart/form-data; boundary=${BOUNDARY}` };
    // Declared 1000 bytes, announced 100 MB: refused before a byte of the body is read.
    const lying = await rawPost(url, { ...auth, "x-file-size": "1000", "content-length": String(100 * 1024 * 1024) }, (req) => req.write("--"));
    expect(lying).toMatchObject({ status: 413, json: { error: { code: "PAYLOAD_TOO_LARGE" } } });

    // Declared over FILES_MAX_BYTES, chunked (no Content-Length): the service refuses the header.
    const big = multipart("big.bin", Buffer.alloc(MAX_BYTES + 1, 1));
    const tooBig = await rawPost(url, { ...auth, "x-file-size": String(MAX_BYTES + 1) }, (req) => {
      req.write(big.head);
      req.write(big.bytes);
      req.end(big.tail);
    });
    expect(tooBig).toMatchObject({ status: 413, json: { error: { code: "PAYLOAD_TOO_LARGE", limit: "file-size" } } });

    // The helper reports it with the limit.
    const refused = await upload(alice, roomId, Buffer.alloc(MAX_BYTES + 1), "big.bin").catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(UploadError);
    expect(refused).toMatchObject({ status: 413, code: "PAYLOAD_TOO_LARGE", limit: "file-size" });
  });

  it("refuses a file longer than declared, a missing size, a part not named file, a body that is not multipart, and a room you are not in", async () => {
    const alice = await edge.signUp("ra");
    const mallory = await edge.signUp("rm");
    const roomId = await roomWithMembers(edge, alice, []);
    const before = await storedKeys("files/");
    const url = `${edge.base}/api/v1/rooms/${roomId}/files`;
    const auth = (who: Account) => ({ authorization: `Bearer ${who.accessToken}`, "content-type": `multipart/form-data; boundary=${BOUNDARY}` });
    const send = (headers: Record<string, string>, body: { head: Buffer; bytes: Buffer; tail: Buffer }) =>
      rawPost(url, headers, (req) => req.end(Buffer.concat([body.head, body.bytes, body.tail])));
    const ten = multipart("ten.txt", Buffer.from("0123456789"));
    expect(await send({ ...auth(alice), "x-file-size": "5" }, ten)).toMatchObject({ status: 400, json: { error: { field: "size" } } });
    expect(await send(auth(alice), ten)).toMatchObject({ status: 400, json: { error: { field: "size" } } });
    expect(await send({ ...auth(alice), "x-file-size": "10" }, multipart("ten.txt", Buffer.from("0123456789"), "attachment"))).toMatchObject({ status: 400 });
    expect(await send({ ...auth(alice), "x-file-size": "10", "content-type": "application/json" }, ten)).toMatchObject({ status: 415 });
    const notMine = await send({ ...auth(mallory), "x-file-size": "10" }, ten);
    const random = await rawPost(`${edge.base}/api/v1/rooms/${MISSING}/files`, { ...auth(mallory), "x-file-size": "10" }, (req) => req.end(Buffer.concat([ten.head, ten.bytes, ten.tail])));
    expect(notMine).toMatchObject({ status: 404 });
    expect((notMine as { json: unknown }).json).toEqual((random as { json: unknown }).json);
    expect(await send({ "content-type": `multipart/form-data; boundary=${BOUNDARY}`, "x-file-size": "10" }, ten)).toMatchObject({ status: 401 });
    // Nothing of these was stored.
    expect(await storedKeys("files/")).toEqual(before);
  });

  it("stores nothing of an upload whose client goes away halfway: the service's temporary file goes, no object appears", async () => {
    const alice = await edge.signUp("xa");
    const roomId = await roomWithMembers(edge, alice, []);
    const before = await storedKeys("files/");
    const body = multipart("half.bin", Buffer.alloc(200 * 1024, 3));
    let cut!: () => void;
    const answer = rawPost(`${edge.base}/api/v1/rooms/${roomId}/files`, { authorization: `Bearer ${alice.accessToken}`, "content-type": `multipart/form-data; boundary=${BOUNDARY}`, "x-file-size": String(body.bytes.length) }, (req) => {
      req.write(body.head);
      req.write(body.bytes.subarray(0, 100 * 1024));
      cut = () => req.destroy();
    });
    // The marker that the bytes reached the service: its temporary file for this upload exists.
    await waitForAsync(async () => (await readdir(files.tempDir)).length > 0);
    cut();
    expect(await answer).toEqual({ closed: true });
    // The cancelled call's temporary file is removed; and nothing was put in storage.
    await waitForAsync(async () => (await readdir(files.tempDir)).length === 0);
    expect(await storedKeys("files/")).toEqual(before);
    // The same user's next upload is stored as usual.
    const next = await upload(alice, roomId, Buffer.from("complete"), "whole.txt");
    expect((await storedKeys("files/")).length).toBe(before.length + 1);
    expect(next.size).toBe(8);
  });

  it("counts uploads on the send budget: over it, 429 with Retry-After, and nothing stored", async () => {
    // A second edge on the same services and rate limiter, with a budget of 2 sends per 10 s.
    const limited = await startTestEdge({ RATE_SEND_PER_10S_USER: "2" }, edge);
    try {
      const alice = await edge.signUp("qa");
      const roomId = await roomWithMembers(edge, alice, []);
      const put = () => uploadFile({ baseUrl: limited.base, roomId, file: new Blob([Buffer.from("x")]), name: "x.txt", token: alice.accessToken });
      await put();
      await put();
      const before = await storedKeys("files/");
      const refused = await put().catch((error: unknown) => error);
      expect(refused).toMatchObject({ status: 429, code: "TOO_MANY_REQUESTS", retryAfterSeconds: expect.any(Number) });
      expect(await storedKeys("files/")).toEqual(before);
    } finally {
      await limited.stop();
    }
  });

  it("takes back an upload no message took (DELETE /files/:fileId): gone for the uploader, refused for others and once attached", async () => {
    const alice = await edge.signUp("da");
    const bob = await edge.signUp("db");
    const roomId = await roomWithMembers(edge, alice, [bob]);
    const kept = await upload(alice, roomId, Buffer.from("kept"), "kept.txt");
    const dropped = await upload(alice, roomId, Buffer.from("dropped"), "dropped.txt");
    expect((await edge.api("DELETE", `/api/v1/files/${dropped.id}`, { token: bob.accessToken })).status).toBe(404);
    expect((await edge.api("DELETE", `/api/v1/files/${dropped.id}`, { token: alice.accessToken })).status).toBe(204);
    expect((await edge.api("GET", `/api/v1/files/${dropped.id}`, { token: alice.accessToken })).status).toBe(404);
    await ok(edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId, body: "kept", fileIds: [kept.id] } }), 201);
    expect((await edge.api("DELETE", `/api/v1/files/${kept.id}`, { token: alice.accessToken })).status).toBe(412);
    // A send naming a file it may not take is 400 naming fileIds; without files the body is still required.
    const refused = await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId, fileIds: [kept.id] } });
    expect(refused.status).toBe(400);
    const empty = await edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId } });
    expect(empty).toMatchObject({ status: 400, json: { error: { field: "body" } } });
  });

});

describe("link previews", () => {
  it("shows a link's preview with its re-hosted image (no sign-in, public cache, sandboxed), which only the sender removes", async () => {
    const alice = await edge.signUp("pa");
    const bob = await edge.signUp("pb");
    const roomId = await roomWithMembers(edge, alice, [bob]);
    const link = `${siteOrigin}/launch`;
    const sent = await ok(edge.api("POST", "/api/v1/messages", { token: alice.accessToken, body: { roomId, body: `read ${link} today` } }), 201);
    expect(sent.linkPreviews).toEqual([]);
    // The preview comes as a later change of the message: the marker is the message having it.
    let message: any;
    await waitForAsync(async () => {
      const page = await ok(edge.api("GET", `/api/v1/messages/${roomId}`, { token: bob.accessToken }));
      message = page.messages.find((m: { id: string }) => m.id === sent.id);
      return message.linkPreviews.length > 0;
    });
    expect(message.linkPreviews).toEqual([
      { url: link, title: "The launch notes", description: "What shipped", siteName: "Example", image: { url: expect.stringMatching(/^\/api\/v1\/link-images\/[^/]+$/), width: 120, height: 60 } },
    ]);
    const image = await download(message.linkPreviews[0].image.url);
    expect(image.status).toBe(200);
    expect(image.headers.get("content-type")).toMatch(/^image\//);
    expect(image.headers.get("cache-control")).toMatch(/^public, max-age=\d+$/);
    expect(image.headers.get("content-security-policy")).toBe(FILE_CSP);
    expect(image.headers.get("x-content-type-options")).toBe("nosniff");
    expect((await download(message.linkPreviews[0].image.url, { headers: { "if-none-match": image.headers.get("etag")! } })).status).toBe(304);

    const path = `/api/v1/messages/${sent.id}/link-previews?url=${encodeURIComponent(link)}`;
    expect((await edge.api("DELETE", path, { token: bob.accessToken })).status).toBe(403);
    const removed = await ok(edge.api("DELETE", path, { token: alice.accessToken }));
    expect(removed.linkPreviews).toEqual([]);
    const viaTrpc = await edge.trpc(alice.accessToken).messages.removeLinkPreview.mutate({ id: sent.id, url: link }).catch((error: unknown) => error);
    expect(viaTrpc).not.toBeInstanceOf(Error);
  });

  it("answers a link image that does not exist 404, with the sandbox, without sign-in", async () => {
    const got = await download("/api/v1/link-images/nope");
    expect(got.status).toBe(404);
    expect(got.headers.get("content-security-policy")).toBe(FILE_CSP);
  });
});

async function waitForAsync(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// A Parley of their own: signed URLs that live one second, and a storage quota of 1,000 bytes per user.
describe("signed URLs expire; quotas hold", () => {
  let short: TestEdge;
  let storage: TestFileStorage;
  beforeAll(async () => {
    storage = await testFileStorage();
    short = await startTestEdge({ ...storage.env, FILES_URL_TTL_SECONDS: "1", FILES_QUOTA_BYTES: "1000" });
  }, 120_000);
  afterAll(async () => {
    await short?.stop();
    await storage?.stop();
  });

  it("refuses a signed URL once its expiry has passed, as any bad token", async () => {
    const alice = await short.signUp("ea");
    const roomId = await roomWithMembers(short, alice, []);
    const file = await uploadFile({ baseUrl: short.base, roomId, file: new Blob([Buffer.from("soon gone")]), name: "soon.txt", token: alice.accessToken });
    const { urls } = await short.trpc(alice.accessToken).files.signUrls.mutate({ fileIds: [file.id] });
    const expiresAt = Date.parse(urls[0]!.expiresAt);
    // The clock is the marker: past the expiry (whole seconds), the token is refused.
    while (Date.now() < expiresAt + 1000) await new Promise((resolve) => setTimeout(resolve, expiresAt + 1000 - Date.now()));
    const res = await fetch(`${short.base}${urls[0]!.url}`);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe("the download link is not valid or has expired");
    expect((await fetch(`${short.base}/api/v1/files/${file.id}/content`, { headers: { authorization: `Bearer ${alice.accessToken}` } })).status).toBe(200);
  });

  it("answers an upload over the uploader's quota 413 with limit quota (not 429), before its bytes are taken", async () => {
    const alice = await short.signUp("qa");
    const roomId = await roomWithMembers(short, alice, []);
    const put = (size: number) => uploadFile({ baseUrl: short.base, roomId, file: new Blob([Buffer.alloc(size, 5)]), name: "q.bin", token: alice.accessToken });
    await put(600);
    const refused = await put(600).catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 413, code: "PAYLOAD_TOO_LARGE", limit: "quota" });
    expect((await put(300)).size).toBe(300);
  });
});
