// Link previews (issue 19): the message service next to a fake room service, with its real
// database (PGlite, or PostgreSQL with PARLEY_TEST_DATABASE_URL), broker (memory or Redis) and file
// storage (disk, or S3 on s3rver with PostgreSQL), and web pages served by local HTTP servers on
// 127.0.0.1. The pages' server is allowed by LINK_PREVIEW_ALLOWED_HOSTS ("127.0.0.1:<its port>"),
// as an operator allows an intranet host; everything else on 127.0.0.1, private addresses and
// names that resolve to them are refused. DNS is outside the system: the fetcher is given a table.
import type dns from "node:dns";
import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { asUser, topics } from "@parley/kit";
import type { Event } from "@parley/proto/events/v1/events_pb";
import type { Message } from "@parley/proto/message/v1/message_pb";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LinkImages } from "../src/previews/link-images.js";
import { startLinkPreviews } from "../src/previews/index.js";
import { previewLinks } from "../src/previews/links.js";
import { parsePage } from "../src/previews/page.js";
import type { LinkPreviewWorker } from "../src/previews/worker.js";
import { eventually, failure } from "./behaviours.js";
import { startFakeRoomWorld, type FakeRoomWorld } from "./fake-room-world.js";
import type { FileStorage } from "../src/files/storage.js";
import { FileService } from "@parley/proto/file/v1/file_pb";
import { createServiceClient } from "@parley/kit";
import { testInternalAuth } from "@parley/kit/testing";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { RoomKind } from "@parley/proto/room/v1/room_pb";
import { uuidv7 } from "uuidv7";
import { openGraphPage, startPageServer, type PageServer } from "./support/pages.js";

const TIMEOUT_MS = 2_500;
const MAX_BYTES = 256 * 1024;

/** A resolver answering from a table (what DNS would say); unknown names do not exist. */
function resolverFrom(answers: Record<string, Array<[string, 4 | 6]>>) {
  return (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => {
    const answer = answers[hostname.toLowerCase()];
    if (!answer) {
      const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      error.code = "ENOTFOUND";
      return setImmediate(() => callback(error, []));
    }
    setImmediate(() => callback(null, answer.map(([address, family]) => ({ address, family }))));
  };
}

describe("previewLinks and parsePage", () => {
  it("takes the first http(s) links outside code, once each, without fragments or trailing punctuation", () => {
    const body = "see https://a.example.com/x#top, (https://b.example.com/y) and `https://code.example.com`\n```\nhttps://fenced.example.com\n```\nftp://no.example.com https://a.example.com/x https://c.example.com/z. https://d.example.com";
    expect(previewLinks(body, 3)).toEqual(["https://a.example.com/x", "https://b.example.com/y", "https://c.example.com/z"]);
    expect(previewLinks(body, 0)).toEqual([]);
    expect(previewLinks("[docs](https://e.example.com/a_(b))", 3)).toEqual(["https://e.example.com/a_(b)"]);
  });

  it("reads Open Graph before Twitter cards before the title, decoding entities into capped plain text", () => {
    const page = `<html><head><title>Plain &amp; simple</title>
      <meta name="twitter:title" content="Twitter title"><meta property="og:title" content="  OG &amp; &quot;title&quot;\n <b>bold</b> ">
      <meta name="description" content="${"d".repeat(1200)}"><meta property="og:image" content="/img/a.png">
      <link rel="alternate" type="application/json+oembed" href="/oembed?u=1"></head></html>`;
    const meta = parsePage(page, new URL("https://news.example.com/story/1"));
    expect(meta.title).toBe('OG & "title" bold');
    expect(Array.from(meta.description)).toHaveLength(1000);
    expect(meta.imageUrl).toBe("https://news.example.com/img/a.png");
    expect(meta.oembedUrl).toBe("https://news.example.com/oembed?u=1");
    expect(parsePage("<title>Only &lt;a&gt; title</title>", new URL("https://x.example.com/")).title).toBe("Only title");
    expect(parsePage(`<svg><title>icon</title></svg><title>Page</title>`, new URL("https://x.example.com/")).title).toBe("Page");
  });
});

describe("link previews (service, fake room service, real database, broker and storage)", () => {
  let world: FakeRoomWorld;
  let worker: LinkPreviewWorker;
  let storage: FileStorage;
  let pages: PageServer;
  /** Where refused redirects point: it must never be asked anything. */
  let target: PageServer;
  let cover: Buffer;

  beforeAll(async () => {
    [pages, target] = await Promise.all([startPageServer(), startPageServer()]);
    cover = await sharp({ create: { width: 800, height: 400, channels: 3, background: "#3366cc" } }).png().toBuffer();
    world = await startFakeRoomWorld({
      linkPreviews: ({ db, broker, log, storage: files }) =>
        (worker = startLinkPreviews({
          db,
          broker,
          log,
          storage: (storage = files),
          config: {
            LINK_PREVIEW_ALLOWED_HOSTS: [`127.0.0.1:${pages.port}`],
            LINK_PREVIEW_MAX_PER_MESSAGE: 3,
            LINK_PREVIEW_TIMEOUT_MS: TIMEOUT_MS,
            LINK_PREVIEW_MAX_BYTES: MAX_BYTES,
            LINK_PREVIEW_IMAGE_MAX_BYTES: 5 * 1024 * 1024,
            LINK_PREVIEW_CACHE_SECONDS: 3600,
          },
          // What DNS would say: a public-looking name that points at this machine.
          resolve: resolverFrom({ "private.example.com": [["127.0.0.1", 4]], "wiki.example.com": [["10.1.2.3", 4]] }),
          // The sweep runs when a test calls it (and at start).
          worker: { sweepMs: 3_600_000, sweepGraceMs: 0 },
        })),
    });
    pages.route("/article", (_req, res) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "set-cookie": "session=abc; Path=/" });
      res.end(
        openGraphPage({
          "og:title": "Parley & friends",
          "og:description": "A chat\nthat   keeps <em>every</em> message",
          "og:site_name": "Parley Blog",
          "og:image": "/cover.png",
        }),
      );
    });
    pages.route("/cover.png", (_req, res) => res.writeHead(200, { "content-type": "image/png" }).end(cover));
    pages.route("/other", (_req, res) => res.writeHead(200, { "content-type": "text/html" }).end(openGraphPage({ "og:title": "The other page" })));
  });

  afterAll(async () => {
    await world?.stop();
    await Promise.all([pages?.close(), target?.close()]);
  });

  async function people() {
    const ada = await world.newUser();
    const bob = await world.newUser();
    const outsider = await world.newUser();
    const roomId = await world.createRoom(ada, "private", [bob]);
    return { ada, bob, outsider, roomId };
  }

  const send = async (userId: string, roomId: string, body: string) => (await world.messages.sendMessage({ roomId, body }, asUser(userId))).message!;
  const current = async (userId: string, message: Message) =>
    (await world.messages.listMessages({ roomId: message.roomId }, asUser(userId))).messages.find((m) => m.id === message.id)!;
  const failureOf = async (url: string) =>
    (await world.db.fork().em.execute<{ failure: string | null }[]>(`select failure from link_preview_cache where url = ?`, [url]))[0]?.failure;

  async function collect(source: AsyncIterable<{ part?: { case: "info"; value: unknown } | { case: "chunk"; value: Uint8Array } | { case: undefined; value?: undefined } }>) {
    let info: Record<string, unknown> | undefined;
    const chunks: Buffer[] = [];
    for await (const { part } of source) {
      if (part?.case === "info") info = part.value as Record<string, unknown>;
      else if (part?.case === "chunk") chunks.push(Buffer.from(part.value));
    }
    return { info, bytes: Buffer.concat(chunks) };
  }

  it("gives a message with a page's link that page's Open Graph preview, as a later change of the message, its image re-hosted", async () => {
    const { ada, bob, roomId } = await people();
    const events: Event[] = [];
    const unsubscribe = await world.broker.subscribe(topics.room(roomId), (event) => events.push(event));
    try {
      const sent = await send(ada, roomId, `look at ${pages.origin}/article#comments!`);
      expect(sent.linkPreviews).toEqual([]);
      const edited = await eventually(() => {
        const event = events.find((e) => e.payload.case === "messageEdited");
        expect(event).toBeDefined();
        return event!;
      }, 20_000);
      const message = (edited.payload.value as { message: Message }).message;
      expect(message.id).toBe(sent.id);
      expect(edited.change).toBe(sent.change + 1n);
      expect(message.editTime).toBeUndefined();
      expect(message.body).toBe(sent.body);
      expect(message.linkPreviews).toHaveLength(1);
      const preview = message.linkPreviews[0]!;
      expect(preview).toMatchObject({
        url: `${pages.origin}/article`,
        title: "Parley & friends",
        description: "A chat that keeps every message",
        siteName: "Parley Blog",
        imageWidth: 800,
        imageHeight: 400,
      });
      expect(preview.imageId).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // Every read gives the same, the stream from the send's position included.
      expect((await current(bob, sent)).linkPreviews).toEqual(message.linkPreviews);
      const changes = await world.messages.listChanges({ roomId, after: sent.change }, asUser(bob));
      expect(changes.messages.map((m) => [m.id, m.change, m.linkPreviews.length])).toEqual([[sent.id, sent.change + 1n, 1]]);

      // The image is served from Parley's storage (FileService.ReadLinkImage), as WebP, never by the third party.
      const fileService = createServiceClient(FileService, world.messageAddress, { internalAuth: testInternalAuth() });
      const { info, bytes } = await collect(fileService.readLinkImage({ imageId: preview.imageId }, asUser(bob)));
      expect(info).toMatchObject({ mediaType: "image/webp", name: "image.webp", totalSize: BigInt(bytes.length), offset: 0n, length: BigInt(bytes.length) });
      const metadata = await sharp(bytes).metadata();
      expect([metadata.format, metadata.width, metadata.height]).toEqual(["webp", 800, 400]);
      await expect(collect(fileService.readLinkImage({ imageId: "A".repeat(43) }, asUser(bob)))).rejects.toMatchObject({ code: Code.NotFound });
      await expect(collect(fileService.readLinkImage({ imageId: "../files/x" }, asUser(bob)))).rejects.toMatchObject({ code: Code.NotFound });
      // The same bytes as the storage holds (re-hosted once, under link-images/<id>).
      expect((await collect(new LinkImages({ db: world.db, storage }).read(preview.imageId))).bytes.equals(bytes)).toBe(true);

      // Asked as a bot that says what it is, with nothing that identifies anyone (the cookie it was given is not sent back).
      const asked = pages.requests.filter((r) => r.path === "/article" || r.path === "/cover.png");
      expect(asked.map((r) => r.path)).toEqual(["/article", "/cover.png"]);
      for (const { headers } of asked) {
        expect(headers["user-agent"]).toMatch(/ParleyLinkPreview/);
        expect(headers.cookie).toBeUndefined();
        expect(headers.authorization).toBeUndefined();
      }
    } finally {
      await unsubscribe();
    }
  });

  it("keeps a URL's preview in the cache: a second message with the same link asks the page's server nothing", async () => {
    const { ada, roomId } = await people();
    const first = await send(ada, roomId, `${pages.origin}/article`);
    await worker.whenSettled(first.id);
    const [pageHits, imageHits] = [pages.hits("/article"), pages.hits("/cover.png")];
    expect(pageHits).toBe(1);
    const second = await send(ada, roomId, `again: ${pages.origin}/article`);
    expect(await worker.whenSettled(second.id)).toMatchObject({ outcome: "stored", previews: 1 });
    expect((await current(ada, second)).linkPreviews.map((p) => p.title)).toEqual(["Parley & friends"]);
    expect([pages.hits("/article"), pages.hits("/cover.png")]).toEqual([pageHits, imageHits]);
  });

  it("reads a page's oEmbed document (fetched under the same rules) when it has no card: its title, provider and thumbnail", async () => {
    const { ada, roomId } = await people();
    pages.route("/video", (_req, res) =>
      res
        .writeHead(200, { "content-type": "text/html" })
        .end(`<html><head><title>Video page</title><meta name="description" content="A &lt;short&gt; video">
          <link rel="alternate" type="application/json+oembed" href="/oembed.json?url=video"></head><body></body></html>`),
    );
    pages.route("/oembed.json?url=video", (_req, res) =>
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ version: "1.0", type: "video", title: "The <b>video</b>", provider_name: "Tube", thumbnail_url: "/cover.png" })),
    );
    const sent = await send(ada, roomId, `${pages.origin}/video`);
    expect(await worker.whenSettled(sent.id)).toMatchObject({ outcome: "stored", previews: 1 });
    const [preview] = (await current(ada, sent)).linkPreviews;
    expect(preview).toMatchObject({ title: "The video", description: "A <short> video", siteName: "Tube", imageWidth: 800, imageHeight: 400 });
    expect(pages.hits("/oembed.json?url=video")).toBe(1);
  });

  // Each: a redirect from the allowed page server to a place the rules forbid.
  const refusedRedirects: Array<[string, () => string, string]> = [
    ["127.0.0.1 on the target's port", () => `http://127.0.0.1:${target.port}/`, "port"],
    ["127.0.0.1", () => "http://127.0.0.1/admin", "loopback"],
    ["169.254.169.254 (cloud metadata)", () => "http://169.254.169.254/latest/meta-data/", "cloud metadata"],
    ["[::ffff:127.0.0.1] on the target's port", () => `http://[::ffff:127.0.0.1]:${target.port}/`, "port"],
    ["[::ffff:127.0.0.1]", () => "http://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"],
    ["a decimal-encoded address (http://2130706433/)", () => "http://2130706433/", "loopback"],
    ["a decimal-encoded address on the target's port", () => `http://2130706433:${target.port}/`, "port"],
    ["a name that resolves to a private address", () => "http://wiki.example.com/", "resolves to 10.1.2.3, a private address"],
    ["a name that resolves to loopback", () => "https://private.example.com/", "resolves to 127.0.0.1, a loopback address"],
    ["a local name", () => "http://localhost/", "localhost"],
    ["another scheme (file:)", () => "file:///etc/passwd", "must be an http or https URL (got file:)"],
  ];

  it.each(refusedRedirects)("refuses a redirect to %s: no request reaches it, and the message gets no preview", async (_label, location, why) => {
    const { ada, roomId } = await people();
    const path = `/redirect-${randomUUID()}`;
    pages.route(path, (_req, res) => res.writeHead(302, { location: location() }).end());
    const sent = await send(ada, roomId, `${pages.origin}${path}`);
    expect(await worker.whenSettled(sent.id)).toMatchObject({ outcome: "unchanged", previews: 0 });
    expect(pages.hits(path)).toBe(1);
    expect(target.requests).toEqual([]);
    expect((await current(ada, sent)).linkPreviews).toEqual([]);
    expect(await failureOf(`${pages.origin}${path}`)).toContain(why);
  });

  it.each([
    ["http://169.254.169.254/latest/meta-data/", "cloud metadata"],
    ["http://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"],
    ["http://2130706433/", "loopback"],
    ["http://0x7f.1/", "loopback"],
    ["http://wiki.example.com/", "private"],
    ["http://127.0.0.1:<the target's port>/", "port"],
  ])("refuses a link to %s itself", async (link, why) => {
    const { ada, roomId } = await people();
    const url = link.replace("<the target's port>", String(target.port));
    const sent = await send(ada, roomId, `a link: ${url}`);
    expect(await worker.whenSettled(sent.id)).toMatchObject({ outcome: "unchanged", previews: 0 });
    expect(target.requests).toEqual([]);
    expect((await current(ada, sent)).linkPreviews).toEqual([]);
    expect(await failureOf(new URL(url).href)).toContain(why);
  });

  it("cuts off a page that trickles its bytes at the time limit (no preview)", async () => {
    const { ada, roomId } = await people();
    let closed!: () => void;
    const cutOff = new Promise<void>((resolve) => (closed = resolve));
    pages.route("/slow", (_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.write(`<html><head><meta property="og:title" content="Slow">`);
      const drip = setInterval(() => res.write(" "), 50);
      res.on("close", () => {
        clearInterval(drip);
        closed();
      });
    });
    const sent = await send(ada, roomId, `${pages.origin}/slow`);
    expect(await worker.whenSettled(sent.id)).toMatchObject({ outcome: "unchanged", previews: 0 });
    await cutOff; // the server saw the connection closed by the fetcher
    expect(await failureOf(`${pages.origin}/slow`)).toMatch(/no complete answer within 2500 ms/);
    expect((await current(ada, sent)).linkPreviews).toEqual([]);
  });

  it("stops reading a huge page at the byte limit and still previews it from the Open Graph tags of its head", async () => {
    const { ada, roomId } = await people();
    let finished = false;
    let closed!: () => void;
    const cutOff = new Promise<void>((resolve) => (closed = resolve));
    pages.route("/huge", (_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.write(openGraphPage({ "og:title": "Huge page", "og:description": "its head is small" }, "").replace("</body>\n</html>\n", ""));
      const filler = Buffer.alloc(64 * 1024, "<p>filler</p>");
      let left = (64 * 1024 * 1024) / filler.length; // 64 MiB, never all sent
      const pump = () => {
        while (left > 0) {
          left--;
          if (!res.write(filler)) return void res.once("drain", pump);
        }
        finished = true;
        res.end();
      };
      res.on("close", () => closed());
      pump();
    });
    const sent = await send(ada, roomId, `${pages.origin}/huge`);
    expect(await worker.whenSettled(sent.id)).toMatchObject({ outcome: "stored", previews: 1 });
    await cutOff;
    expect(finished).toBe(false);
    expect((await current(ada, sent)).linkPreviews.map((p) => [p.title, p.description])).toEqual([["Huge page", "its head is small"]]);
  });

  it("lets the sender remove a preview (others PERMISSION_DENIED, outsiders NOT_FOUND), and it stays removed after an edit", async () => {
    const { ada, bob, outsider, roomId } = await people();
    const sent = await send(ada, roomId, `${pages.origin}/article`);
    await worker.whenSettled(sent.id);
    const withPreview = await current(ada, sent);
    expect(withPreview.linkPreviews).toHaveLength(1);
    const remove = (userId: string, url = `${pages.origin}/article`) => world.messages.removeLinkPreview({ messageId: sent.id, url }, asUser(userId));
    expect((await failure(remove(bob)))?.code).toBe(Code.PermissionDenied);
    expect((await failure(remove(outsider)))?.code).toBe(Code.NotFound);
    expect((await failure(world.messages.removeLinkPreview({ messageId: randomUUID(), url: `${pages.origin}/article` }, asUser(outsider))))?.code).toBe(Code.NotFound);
    expect((await failure(remove(ada, "not a url")))?.code).toBe(Code.InvalidArgument);

    const events: Event[] = [];
    const unsubscribe = await world.broker.subscribe(topics.room(roomId), (event) => events.push(event));
    try {
      const { message: removed } = await remove(ada, `${pages.origin}/article#again`);
      expect(removed!.linkPreviews).toEqual([]);
      expect(removed!.change).toBe(withPreview.change + 1n);
      expect(removed!.editTime).toBeUndefined();
      await eventually(() => expect(events.map((e) => [e.payload.case, e.change])).toEqual([["messageEdited", withPreview.change + 1n]]));
    } finally {
      await unsubscribe();
    }
    // An edit that adds a link previews the new link only: the removed one stays off.
    await world.messages.editMessage({ messageId: sent.id, body: `${pages.origin}/article and ${pages.origin}/other` }, asUser(ada));
    expect(await worker.whenSettled(sent.id)).toMatchObject({ outcome: "stored" });
    expect((await current(bob, sent)).linkPreviews.map((p) => p.url)).toEqual([`${pages.origin}/other`]);
  });

  it("answers an edit made while the first previews are being fetched: the edited links' previews, not the stale ones", async () => {
    const { ada, roomId } = await people();
    let arrived!: () => void;
    const asked = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    pages.route("/held", (_req, res) => {
      arrived();
      void released.then(() => res.writeHead(200, { "content-type": "text/html" }).end(openGraphPage({ "og:title": "Held" })));
    });
    const sent = await send(ada, roomId, `${pages.origin}/held`);
    await asked; // the worker is fetching the first text's link
    await world.messages.editMessage({ messageId: sent.id, body: `now ${pages.origin}/other` }, asUser(ada));
    release();
    expect(await worker.whenSettled(sent.id)).toMatchObject({ outcome: "stored", previews: 1 });
    expect((await current(ada, sent)).linkPreviews.map((p) => p.title)).toEqual(["The other page"]);
  });

  it("makes the previews a crash left behind when the sweep runs, and none once the message is deleted", async () => {
    const { ada, roomId } = await people();
    // As if the process died right after the send's commit: the request is stored, nobody queued it.
    const message = await world.db.transactional(async (tx) => {
      const appended = await tx.messages.append({ id: randomUUID(), roomId, senderId: ada, body: `${pages.origin}/other`, clientMsgId: randomUUID(), replyToId: null });
      await tx.previews.markWanted(appended.id);
      return appended;
    });
    const settled = worker.whenSettled(message.id);
    await worker.sweep();
    expect(await settled).toMatchObject({ outcome: "stored", previews: 1 });
    const stored = (await world.messages.listMessages({ roomId }, asUser(ada))).messages.find((m) => m.id === message.id)!;
    expect(stored.linkPreviews.map((p) => p.title)).toEqual(["The other page"]);
    expect(await world.db.fork().previews.waiting(new Date(Date.now() + 60_000), 10)).not.toContain(message.id);
    const { message: deleted } = await world.messages.deleteMessage({ messageId: message.id }, asUser(ada));
    expect(deleted!.linkPreviews).toEqual([]);
  });

  it("removes a re-hosted image once no message shows it (the sweep), and keeps those that are shown", async () => {
    const { ada, roomId } = await people();
    const solo = await sharp({ create: { width: 64, height: 64, channels: 3, background: "#cc3366" } }).png().toBuffer();
    pages.route("/solo", (_req, res) => res.writeHead(200, { "content-type": "text/html" }).end(openGraphPage({ "og:title": "Solo", "og:image": "/solo.png" })));
    pages.route("/solo.png", (_req, res) => res.writeHead(200, { "content-type": "image/png" }).end(solo));
    const sent = await send(ada, roomId, `${pages.origin}/solo`);
    await worker.whenSettled(sent.id);
    const soloId = (await current(ada, sent)).linkPreviews[0]!.imageId;
    const shown = await send(ada, roomId, `${pages.origin}/article`);
    await worker.whenSettled(shown.id);
    const coverId = (await current(ada, shown)).linkPreviews[0]!.imageId;
    const images = new LinkImages({ db: world.db, storage });
    await world.messages.deleteMessage({ messageId: sent.id }, asUser(ada));
    // Unused for "0 seconds": only the image of the deleted message qualifies.
    expect(await images.removeUnused(0)).toBe(1);
    await expect(collect(images.read(soloId))).rejects.toMatchObject({ code: Code.NotFound });
    await expect(storage.read(`link-images/${soloId}`)).rejects.toThrow(/no stored object/);
    expect((await collect(images.read(coverId))).bytes.length).toBeGreaterThan(0);
  });
});

describe("link previews in the all-in-one, as launched from its settings (LINK_PREVIEWS=on, LINK_PREVIEW_ALLOWED_HOSTS)", () => {
  let parley: TestParley<"message">;
  let pages: PageServer;

  beforeAll(async () => {
    pages = await startPageServer();
    const picture = await sharp({ create: { width: 300, height: 200, channels: 3, background: "#22aa55" } }).jpeg().toBuffer();
    pages.route("/card", (_req, res) =>
      res.writeHead(200, { "content-type": "text/html" }).end(openGraphPage({ "og:title": "A card", "og:image": `${pages.origin}/picture.jpg` })),
    );
    pages.route("/picture.jpg", (_req, res) => res.writeHead(200, { "content-type": "image/jpeg" }).end(picture));
    parley = await startTestParley({ services: ["message"], env: { LINK_PREVIEWS: "on", LINK_PREVIEW_ALLOWED_HOSTS: `127.0.0.1:${pages.port}` } });
  });

  afterAll(async () => {
    await parley?.stop();
    await pages?.close();
  });

  it("gives a sent message its preview as a later messageEdited, its image readable through FileService.ReadLinkImage", async () => {
    const { user } = await parley.users.createUser({ id: uuidv7(), username: `u_${randomUUID().slice(0, 8)}`, email: `${randomUUID()}@example.com`, displayName: "" });
    const { room } = await parley.rooms.createRoom({ name: `room ${randomUUID().slice(0, 6)}`, kind: RoomKind.PRIVATE }, asUser(user!.id));
    const events: Event[] = [];
    const unsubscribe = await parley.broker.subscribe(topics.room(room!.id), (event) => events.push(event));
    try {
      const { message: sent } = await parley.messages.sendMessage({ roomId: room!.id, body: `${pages.origin}/card` }, asUser(user!.id));
      const edited = await eventually(() => {
        const event = events.find((e) => e.payload.case === "messageEdited");
        expect(event).toBeDefined();
        return (event!.payload.value as { message: Message }).message;
      }, 20_000);
      expect(edited.id).toBe(sent!.id);
      expect(edited.linkPreviews.map((p) => [p.title, p.imageWidth, p.imageHeight])).toEqual([["A card", 300, 200]]);
      const chunks: Uint8Array[] = [];
      let mediaType = "";
      for await (const { part } of parley.files.readLinkImage({ imageId: edited.linkPreviews[0]!.imageId }, asUser(user!.id))) {
        if (part.case === "info") mediaType = part.value.mediaType;
        if (part.case === "chunk") chunks.push(part.value);
      }
      expect(mediaType).toBe("image/webp");
      expect((await sharp(Buffer.concat(chunks)).metadata()).format).toBe("webp");
    } finally {
      await unsubscribe();
    }
  });
});
