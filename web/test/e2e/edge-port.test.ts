// The socket's origin follows the edge (issue 15), in a real browser: Parley started the way
// `EDGE_PORT=<any> npm start` starts it, on ports that are not the defaults and with no
// PUBLIC_ORIGIN, no PUBLIC_SOCKET_URL and no proxy in front; the page loads from the edge and
// opens its socket on the socket tier's own port. Live updates work. And a socket tier that
// refuses the page's origin says so on screen instead of reconnecting forever.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { processSpec } from "@parley/launch";
import { randomBytes } from "node:crypto";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { buildWebApp, eventually, launchChromium, openBrowserFor, removeDir, requireChromium, screenshot, tempDir } from "./harness";
import { send, signUp, texts, waitLive } from "./people";

let dist: string | undefined;
let parley: TestParley | undefined;
let browser: Browser | undefined;
const extra: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  requireChromium();
  const webRoot = (dist = await tempDir());
  const [, started, launched] = await Promise.all([
    buildWebApp(webRoot),
    // Free ports for every process (the edge is never on 8080), the defaults for everything else.
    startTestParley({ env: { WEB_ROOT: webRoot, PUBLIC_ORIGIN: "", PUBLIC_SOCKET_URL: "", CORS_ORIGINS: "" } }),
    launchChromium(),
  ]);
  parley = started;
  browser = launched;
}, 180_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  for (const service of extra.reverse()) await service.stop().catch(() => undefined);
  await parley?.stop().catch(() => undefined);
  await removeDir(dist);
}, 60_000);

describe("the edge on a non-default port", { timeout: 120_000 }, () => {
  it("serves a web app whose socket the socket tier accepts: a message from one person appears live at the other", async () => {
    const edgeAddress = parley!.addresses.edge;
    const base = `http://${edgeAddress}`;
    expect(edgeAddress).not.toMatch(/:8080$/);
    const ada = await openBrowserFor(browser!, "Ada");
    const bob = await openBrowserFor(browser!, "Bob");
    await signUp(ada, base);
    await waitLive(ada.page);
    await signUp(bob, base);
    await waitLive(bob.page);

    await ada.page.getByRole("button", { name: "Create a room" }).click();
    const dialog = ada.page.getByRole("dialog", { name: "Create a room" });
    await dialog.getByLabel("Name").fill("ports");
    await dialog.getByRole("button", { name: "Create room" }).click();
    await ada.page.waitForURL(/\/rooms\//);
    await bob.page.getByRole("button", { name: "Browse public rooms" }).click();
    await bob.page.getByRole("dialog", { name: "Browse public rooms" }).getByRole("button", { name: "Join ports" }).click();
    await bob.page.getByRole("heading", { level: 1, name: "ports" }).waitFor();

    await send(ada.page, "Any port will do");
    await eventually(async () => expect(await texts(bob.page)).toContain("Any port will do"), 10_000, "Bob to see Ada's message live");
    await send(bob.page, "Heard you");
    await eventually(async () => expect(await texts(ada.page)).toContain("Heard you"), 10_000, "Ada to see Bob's message live");
    await screenshot(bob.page, "edge-port-01-live-on-a-free-port");
    expect(await bob.page.locator('[data-testid="socket-refused"]').count()).toBe(0);
    expect([...ada.errors, ...bob.errors]).toEqual([]);
    await ada.context.close();
    await bob.context.close();
  });

  it("shows that the socket tier refused the page's origin, and what to set, instead of an endless reconnect", async () => {
    // A socket node that is not this edge's (another INTERNAL_AUTH_SECRET: it cannot check the
    // edge's ticket, and the edge's origin is not in its settings), and an edge that points the web app at it.
    const [launchSocket, launchEdge] = await Promise.all([processSpec("socket")!.launch(), processSpec("edge")!.launch()]);
    const foreignSocket = await launchSocket({
      env: { ...parley!.env, INTERNAL_AUTH_SECRET: randomBytes(48).toString("base64url"), LOG_LEVEL: "silent" },
      port: 0,
      host: "127.0.0.1",
      addresses: parley!.addresses,
      broker: parley!.broker,
      limiter: parley!.limiter,
    });
    extra.push(foreignSocket);
    const edge = await launchEdge({
      env: { ...parley!.env, PUBLIC_SOCKET_URL: `ws://${foreignSocket.address}/ws`, LOG_LEVEL: "silent" },
      port: 0,
      host: "127.0.0.1",
      addresses: parley!.addresses,
      limiter: parley!.limiter,
    });
    extra.push(edge);
    const cleo = await openBrowserFor(browser!, "Cleo");
    await signUp(cleo, `http://${edge.address}`);
    const banner = cleo.page.locator('[data-testid="socket-refused"]');
    await banner.waitFor({ timeout: 20_000 });
    expect(await banner.getAttribute("role")).toBe("alert");
    expect(await banner.textContent()).toContain("refused this page's origin");
    expect(await banner.textContent()).toContain("PUBLIC_ORIGIN");
    await screenshot(cleo.page, "edge-port-02-socket-refused");
    await cleo.context.close();
  });
});
