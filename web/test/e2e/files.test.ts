// Files, images and link previews in a browser (issue 19), two people in a room. Ada pastes an
// image into the composer (a paste event holding a PNG) and drops a PDF on the room view (a drop
// event), both upload in the tray; a file over the limit shows "Too large" in the tray and is
// removed; a slow upload shows its progress, keeps Send disabled, and is cancelled. She sends them with a link to a local page with Open Graph tags (served
// by the test, allowed for previews through LINK_PREVIEW_ALLOWED_HOSTS). Bob sees the image
// inline (sized before it loads) and the PDF card arrive, opens the image in the lightbox with
// Enter, goes to the next image (a second message's) with → and back with ←, closes it with Escape
// (focus back on the image), downloads the PDF (the bytes match),
// sees the preview's title, and the room's files in the Files panel. Ada removes the preview: it
// goes for Bob too; she deletes the message: its files go with it. Screenshots at each step.
import { createServer, type Server } from "node:http";
import { readFile } from "node:fs/promises";
import { deflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { atFailure, eventually, openBrowserFor, screenshot, useBrowserStack, type Person } from "./harness";
import { composer, messageRow, ok, register, signIn } from "./people";

/** The largest file the test's Parley takes: the over-the-limit step uploads a little more. */
const MAX_FILE_BYTES = 1024 * 1024;

// --- the files: a real PNG (drawn here) and a small PDF ---
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A width x height RGB PNG: a diagonal gradient (so the thumbnail and the lightbox show something). */
function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      rows[row + 1 + x * 3] = Math.round((x / width) * 255);
      rows[row + 2 + x * 3] = Math.round((y / height) * 180) + 40;
      rows[row + 3 + x * 3] = 200;
    }
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

const PDF = Buffer.from(
  "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n" +
    "3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
);
const IMAGE = png(640, 400);

// --- a page with Open Graph tags, on this machine ---
let pages: Server;
let pageUrl = "";
// startTestParley leaves link previews off unless a test asks (LINK_PREVIEWS=on).
const env: Record<string, string> = { FILES_MAX_BYTES: String(MAX_FILE_BYTES), LINK_PREVIEWS: "on" };
beforeAll(async () => {
  pages = createServer((req, res) => {
    if (req.url === "/og.png") return void res.writeHead(200, { "content-type": "image/png" }).end(png(400, 210));
    const host = req.headers.host;
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(`<!doctype html><html><head>
<title>fallback title</title>
<meta property="og:title" content="Parley 1.9 release notes">
<meta property="og:description" content="Files, images and link previews, stored on disk or S3.">
<meta property="og:site_name" content="Parley blog">
<meta property="og:image" content="http://${host}/og.png">
</head><body>notes</body></html>`);
  });
  await new Promise<void>((done) => pages.listen(0, "127.0.0.1", done));
  const port = (pages.address() as { port: number }).port;
  pageUrl = `http://127.0.0.1:${port}/notes`;
  // Before the stack starts (its beforeAll runs after this one): the test page's host may be fetched.
  env.LINK_PREVIEW_ALLOWED_HOSTS = `127.0.0.1:${port}`;
});
afterAll(() => new Promise<void>((done) => pages?.close(() => done())));

const stack = useBrowserStack(env);

/** Pastes files into the composer as a clipboard would (a paste event with a DataTransfer). */
async function pasteFiles(page: Page, files: { name: string; type: string; bytes: Buffer }[]): Promise<void> {
  await composer(page).evaluate(
    (box, list) => {
      const data = new DataTransfer();
      for (const f of list) data.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
      box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    },
    files.map((f) => ({ name: f.name, type: f.type, base64: f.bytes.toString("base64") })),
  );
}

/** Drags files over the room view (the drop zone shows), then drops them, or (drop: false) leaves them hovering. */
async function dragFiles(page: Page, files: { name: string; type: string; bytes: Buffer }[], drop = true): Promise<void> {
  await page.locator("section.timeline").evaluate(
    (target, { list, drop }) => {
      const data = new DataTransfer();
      for (const f of list) data.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
      const fire = (type: string) => target.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true, cancelable: true }));
      fire("dragenter");
      fire("dragover");
      if (drop) fire("drop");
    },
    { list: files.map((f) => ({ name: f.name, type: f.type, base64: f.bytes.toString("base64") })), drop },
  );
}

describe("files, images and link previews in a browser", () => {
  let ada: Person;
  let bob: Person;

  it("a pasted image and a dropped PDF reach the other member, open in the lightbox, download, and carry a link preview the sender can remove", async () => {
    ada = await openBrowserFor(stack.browser, "Ada");
    bob = await openBrowserFor(stack.browser, "Bob");
    const adaAccount = await register(stack.rest, ada);
    const bobAccount = await register(stack.rest, bob);
    const room = await ok(stack.rest, "POST", "/rooms", adaAccount.token, { name: "launch", visibility: "private" });
    await ok(stack.rest, "POST", `/rooms/${room.id}/members`, adaAccount.token, { userId: bobAccount.id });
    await ok(stack.rest, "POST", "/messages", bobAccount.token, { roomId: room.id, body: "Send me the screenshot and the spec?" });
    const path = `/rooms/${room.id}`;
    await signIn(ada, stack.gateway.url, path);
    await signIn(bob, stack.gateway.url, path);
    await messageRow(ada.page, "Send me the screenshot").waitFor();

    const tray = ada.page.locator('[data-testid="attachment-tray"]');
    await atFailure(ada.page, "files-fail-01-tray", async () => {
      // Ada pastes a screenshot: it goes to the tray and uploads.
      await pasteFiles(ada.page, [{ name: "image.png", type: "image/png", bytes: IMAGE }]);
      await tray.locator('[data-testid="tray-item"]').first().waitFor();
      // She drags the spec over the room view: the drop zone shows; she drops it.
      await dragFiles(ada.page, [{ name: "spec.pdf", type: "application/pdf", bytes: PDF }], false);
      await ada.page.locator('[data-testid="drop-zone"]').waitFor();
      await screenshot(ada.page, "files-01-drop-zone");
      await dragFiles(ada.page, [{ name: "spec.pdf", type: "application/pdf", bytes: PDF }]);
      await expect.poll(() => ada.page.locator('[data-testid="drop-zone"]').count()).toBe(0);
      await eventually(async () => {
        const statuses = await tray.locator('[data-testid="tray-item"]').evaluateAll((items) => items.map((i) => i.getAttribute("data-status")));
        expect(statuses).toEqual(["done", "done"]);
      }, 30_000, "both uploads to finish");
      const names = await tray.locator('[data-testid="tray-item"]').evaluateAll((items) => items.map((i) => i.getAttribute("data-name")));
      expect(names[0]).toMatch(/^Pasted image .+\.png$/);
      expect(names[1]).toBe("spec.pdf");

      // A file over the limit fails in the tray, saying so, and is removed.
      await ada.page.locator('[data-testid="file-input"]').setInputFiles({ name: "huge.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(MAX_FILE_BYTES + 50_000, 7) });
      const huge = tray.locator('[data-testid="tray-item"][data-name="huge.bin"]');
      await huge.locator('[role="alert"]').waitFor({ timeout: 30_000 });
      expect(await huge.getAttribute("data-status")).toBe("failed");
      expect(await huge.locator('[role="alert"]').textContent()).toMatch(/too large/i);
      await screenshot(ada.page, "files-02-tray");
      await huge.getByRole("button", { name: "Remove huge.bin" }).click();
      await expect.poll(() => huge.count()).toBe(0);

      // A slow upload (the browser's upload throttled): its progress shows, Send waits for it, and
      // cancelling it aborts it and takes it out of the tray.
      const cdp = await ada.context.newCDPSession(ada.page);
      await cdp.send("Network.enable");
      await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 64 * 1024 });
      await ada.page.locator('[data-testid="file-input"]').setInputFiles({ name: "slow.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(900_000, 3) });
      const slow = tray.locator('[data-testid="tray-item"][data-name="slow.bin"]');
      await expect.poll(() => slow.locator("progress").evaluate((bar: HTMLProgressElement) => bar.value), { timeout: 15_000 }).toBeGreaterThan(0);
      expect(await slow.getAttribute("data-status")).toBe("uploading");
      // Two files are up, the text is empty: only the running upload keeps Send disabled.
      expect(await ada.page.getByRole("button", { name: /^Send message/ }).isDisabled()).toBe(true);
      await screenshot(ada.page, "files-02-progress");
      await slow.getByRole("button", { name: "Cancel uploading slow.bin" }).click();
      await expect.poll(() => slow.count()).toBe(0);
      await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      expect(await ada.page.getByRole("button", { name: /^Send message/ }).isDisabled()).toBe(false);
    });

    // Ada sends them with a link to the page.
    await composer(ada.page).click();
    await composer(ada.page).pressSequentially(`Here they are, and the notes: ${pageUrl}`, { delay: 0 });
    await composer(ada.page).press("Enter");
    await expect.poll(() => tray.count()).toBe(0);

    // Bob sees the image inline, sized from its width and height, and the PDF's card.
    const bobsMessage = messageRow(bob.page, "Here they are");
    const image = bobsMessage.locator('[data-testid="attachment-image"]');
    const card = bobsMessage.locator('[data-testid="file-card"]');
    await atFailure(bob.page, "files-fail-02-arrive", async () => {
      await image.waitFor();
      await card.waitFor();
      // 640 x 400 fits in 360 x 360 as 360 x 225: the box is right before the bytes arrive. (The
      // message may be drawn anew as its preview arrives: asked until it holds.)
      await eventually(async () => {
        const box = await image.boundingBox();
        expect(box && [Math.round(box.width), Math.round(box.height)]).toEqual([360, 225]);
      }, 5_000, "the image's box");
      await expect.poll(() => image.locator("img").evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0), { timeout: 15_000 }).toBe(true);
      expect(await card.textContent()).toContain("spec.pdf");
      expect(await card.textContent()).toContain("PDF");
    });
    await screenshot(bob.page, "files-03-arrived");

    // Ada sends a second image from the attach button (the file picker), with no text.
    await ada.page.locator('[data-testid="file-input"]').setInputFiles({ name: "diagram.png", mimeType: "image/png", buffer: png(300, 300) });
    await tray.locator('[data-testid="tray-item"][data-status="done"]').waitFor({ timeout: 30_000 });
    await ada.page.getByRole("button", { name: "Send message" }).click();
    const diagram = bob.page.locator('[data-testid="attachment-image"][aria-label="Open image diagram.png"]');
    await diagram.waitFor();

    // Bob opens the image with the keyboard (focus it, Enter), sees it whole, closes with Escape.
    await atFailure(bob.page, "files-fail-03-lightbox", async () => {
      await image.focus();
      await bob.page.keyboard.press("Enter");
      const lightbox = bob.page.getByRole("dialog", { name: /^Image / });
      await lightbox.waitFor();
      await expect.poll(() => lightbox.locator(".lightbox-image").evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(640);
      expect(await lightbox.locator('[data-testid="lightbox-name"]').textContent()).toMatch(/^Pasted image /);
      // Focus is inside the lightbox.
      expect(await bob.page.evaluate(() => Boolean(document.activeElement?.closest("dialog.lightbox")))).toBe(true);
      await screenshot(bob.page, "files-04-lightbox");
      // → and ← go through the room view's images.
      await bob.page.keyboard.press("ArrowRight");
      await expect.poll(() => lightbox.locator('[data-testid="lightbox-name"]').textContent()).toBe("diagram.png");
      expect(await lightbox.textContent()).toContain("2 of 2");
      await bob.page.keyboard.press("ArrowLeft");
      await expect.poll(() => lightbox.locator('[data-testid="lightbox-name"]').textContent()).toMatch(/^Pasted image /);
      await bob.page.keyboard.press("Escape");
      await expect.poll(() => lightbox.count()).toBe(0);
      // Focus is back on the image that opened it.
      expect(await bob.page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toMatch(/^Open image Pasted image /);
    });

    // Bob downloads the PDF: the bytes are the ones Ada dropped.
    await atFailure(bob.page, "files-fail-04-download", async () => {
      const [download] = await Promise.all([bob.page.waitForEvent("download"), card.getByRole("link", { name: "Download spec.pdf" }).click()]);
      expect(download.suggestedFilename()).toBe("spec.pdf");
      const saved = await download.path();
      expect(Buffer.compare(await readFile(saved), PDF)).toBe(0);
    });

    // The room's files, in the Files panel: the image in the grid, the PDF as a row.
    await bob.page.getByRole("button", { name: "Show files" }).click();
    const panel = bob.page.locator('[data-testid="files-panel"]');
    await panel.locator('[data-testid="room-file-image"]').first().waitFor();
    await panel.locator('[data-testid="room-file"]', { hasText: "spec.pdf" }).waitFor();
    await screenshot(bob.page, "files-05-files-panel");
    await panel.getByRole("button", { name: "Hide files" }).click();

    // The preview of the link arrives as a later change of the message: the page's title, its
    // site, its image (re-hosted: loaded from Parley, not from the page's server).
    await atFailure(bob.page, "files-fail-05-preview", async () => {
      await bobsMessage.locator('[data-testid="link-preview-title"]').waitFor({ timeout: 30_000 });
    });
    expect(await bobsMessage.locator('[data-testid="link-preview-title"]').textContent()).toBe("Parley 1.9 release notes");
    expect(await bobsMessage.locator('[data-testid="link-preview"]').textContent()).toContain("Parley blog");
    expect(await bobsMessage.locator(".link-preview-image").getAttribute("src")).toMatch(/^\/api\/v1\/link-images\//);
    await expect.poll(() => bobsMessage.locator(".link-preview-image").evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    // Bob did not send it: no remove button for him.
    expect(await bobsMessage.locator('[data-testid="link-preview-remove"]').count()).toBe(0);
    await screenshot(bob.page, "files-06-preview");

    // Ada removes the preview: it goes for Bob too.
    const adasMessage = messageRow(ada.page, "Here they are");
    await adasMessage.locator('[data-testid="link-preview"]').waitFor({ timeout: 30_000 });
    await screenshot(ada.page, "files-07-sender-preview");
    await adasMessage.locator('[data-testid="link-preview-remove"]').click();
    await expect.poll(() => adasMessage.locator('[data-testid="link-preview"]').count()).toBe(0);
    await expect.poll(() => bobsMessage.locator('[data-testid="link-preview"]').count()).toBe(0);
    // The files stay.
    expect(await bobsMessage.locator('[data-testid="attachment-image"]').count()).toBe(1);

    // Both themes and a phone, for the eye.
    for (const scheme of ["dark", "light"] as const) {
      await bob.page.emulateMedia({ colorScheme: scheme });
      await screenshot(bob.page, `files-08-desktop-${scheme}`);
    }
    await bob.page.setViewportSize({ width: 390, height: 844 });
    // On a phone the image and the card shrink to the message's width, keeping the image's proportions.
    await eventually(async () => {
      const shrunk = await image.boundingBox();
      const cardBox = await card.boundingBox();
      expect(shrunk && shrunk.x + shrunk.width).toBeLessThanOrEqual(390);
      expect(cardBox && cardBox.x + cardBox.width).toBeLessThanOrEqual(390);
      expect(shrunk && Math.abs(shrunk.width / shrunk.height - 640 / 400)).toBeLessThan(0.02);
    }, 5_000, "the image to fit the phone");
    await screenshot(bob.page, "files-09-phone");
    await bob.page.setViewportSize({ width: 1280, height: 800 });

    // Ada deletes the message: its files go with it, for Bob as well.
    await adasMessage.hover();
    await adasMessage.getByRole("button", { name: "Delete message" }).click();
    await ada.page.getByRole("dialog", { name: "Delete message" }).getByRole("button", { name: "Delete" }).click();
    const tombstone = bob.page.locator('[data-testid="message"][data-status="deleted"]');
    await tombstone.waitFor();
    expect(await tombstone.locator('[data-testid="attachments"]').count()).toBe(0);
    expect(await bob.page.locator('[data-testid="file-card"]').count()).toBe(0);
    // The other message's image stays.
    expect(await bob.page.locator('[data-testid="attachment-image"]').count()).toBe(1);

    await eventually(() => expect(ada.errors.concat(bob.errors)).toEqual([]));
    expect(ada.dialogs.concat(bob.dialogs)).toEqual([]);
  }, 180_000);
});
