// What the browser tests stand on: a fresh production build of the web app, a
// whole Parley (startTestParley) serving it, a small gateway in front of both
// (one origin for the page, the API and the socket, with a switch that cuts the
// network), and Debian's Chromium driven by playwright-core.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from "playwright-core";
import { startTestParley, type TestParley } from "@parley/launch/testing";

const here = dirname(fileURLToPath(import.meta.url));
export const WEB_DIR = resolve(here, "../..");
export const SCREENSHOTS = join(WEB_DIR, "test-results");
export const CHROMIUM = process.env.PARLEY_CHROMIUM ?? "/usr/bin/chromium";

/** The browser tests do not skip: without Chromium they fail and say how to get it. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the browser tests need Debian's chromium package. ` +
        "Install it with `apt-get update && apt-get install -y chromium` (.ci/run does this), " +
        "or point PARLEY_CHROMIUM at a Chromium binary. Never `npx playwright install`.",
    );
  }
}

export function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "parley-web-"));
}

/** A production build of the web app (what `npm start` serves) into `outDir`. */
export async function buildWebApp(outDir: string): Promise<string> {
  const vite = join(dirname(createRequire(import.meta.url).resolve("vite/package.json")), "bin", "vite.js");
  await promisify(execFile)(process.execPath, [vite, "build", "--outDir", outDir, "--emptyOutDir", "--logLevel", "warn"], {
    cwd: WEB_DIR,
    env: { ...process.env, NODE_ENV: "production" },
    timeout: 120_000,
  });
  if (!existsSync(join(outDir, "index.html"))) throw new Error(`vite build wrote no index.html to ${outDir}`);
  return outDir;
}

export async function removeDir(path: string | undefined): Promise<void> {
  if (path) await rm(path, { recursive: true, force: true });
}

function hostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(":");
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/**
 * One origin in front of the edge (HTTP) and the socket tier (WebSocket upgrades
 * at /ws), as a reverse proxy would be. `cut()` drops every connection and
 * refuses new ones until `restore()`: the network going away.
 */
export class Gateway {
  private server!: Server;
  private readonly open = new Set<Socket>();
  private edge?: { host: string; port: number };
  private socketTier?: { host: string; port: number };
  private down = false;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      if (this.down || !this.edge) return void req.socket.destroy();
      const upstream = request(
        { host: this.edge.host, port: this.edge.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    });
    this.server.on("connection", (socket: Socket) => this.track(socket));
    this.server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head));
    await new Promise<void>((done) => this.server.listen(0, "127.0.0.1", done));
    this.port = (this.server.address() as { port: number }).port;
  }

  target(edgeAddress: string, socketAddress: string): void {
    this.edge = hostPort(edgeAddress);
    this.socketTier = hostPort(socketAddress);
  }

  private track(socket: Socket): void {
    this.open.add(socket);
    socket.on("close", () => this.open.delete(socket));
    socket.on("error", () => socket.destroy());
  }

  private upgrade(req: IncomingMessage, client: Socket, head: Buffer): void {
    if (this.down || !this.socketTier || !req.url?.startsWith("/ws")) return void client.destroy();
    const upstream = connect(this.socketTier.port, this.socketTier.host, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream).pipe(client);
    });
    this.track(upstream);
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
  }

  /** The network goes away: every open connection drops, new ones are refused. */
  cut(): void {
    this.down = true;
    for (const socket of this.open) socket.destroy();
  }

  restore(): void {
    this.down = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((done) => this.server?.close(() => done()) ?? done());
  }
}

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
  "--disable-dev-shm-usage",
];

/** Debian's Chromium, headless; playwright-core gives each launch a fresh, temporary user-data-dir. */
export async function launchChromium(): Promise<Browser> {
  requireChromium();
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** A person at a browser: their own context (storage, cookies), one page, and what went wrong on it. */
export interface Person {
  name: string;
  username: string;
  email: string;
  password: string;
  context: BrowserContext;
  page: Page;
  /** JavaScript dialogs (alert, confirm, prompt) that opened: the app never opens one. */
  dialogs: string[];
  /** Uncaught errors on the page. */
  errors: string[];
}

export async function openBrowserFor(browser: Browser, name: string, options: BrowserContextOptions = {}): Promise<Person> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const username = `${name.toLowerCase()}${Math.random().toString(36).slice(2, 7)}`;
  const person: Person = { name, username, email: `${username}@example.com`, password: "correct horse battery staple", context, page, dialogs: [], errors: [] };
  watch(person, page);
  return person;
}

export function watch(person: Pick<Person, "dialogs" | "errors">, page: Page): void {
  page.on("dialog", (dialog) => {
    person.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => undefined);
  });
  page.on("pageerror", (error) => person.errors.push(error.message));
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, animations: "disabled" });
  return path;
}

/** Polls until `check` passes (assertions inside throw until then). */
export async function eventually(check: () => Promise<void> | void, timeoutMs = 15_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const reason = last instanceof Error ? last.message : String(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${reason}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What a browser test stands on, started side by side: the web app built, Parley serving it behind a Gateway, Chromium. */
export interface BrowserStack {
  gateway: Gateway;
  parley: TestParley;
  browser: Browser;
  stop(): Promise<void>;
}

/**
 * Builds the web app, starts Parley (with `env` over the defaults: the page's origin is the
 * gateway's, since the edge and the socket tier accept configured origins only) and Chromium,
 * and points the gateway at the edge and the socket tier.
 */
export async function startBrowserStack(env: Record<string, string> = {}): Promise<BrowserStack> {
  requireChromium();
  const gateway = new Gateway();
  await gateway.start();
  const webRoot = await tempDir();
  const stopped: { parley?: TestParley; browser?: Browser } = {};
  const stop = async () => {
    await stopped.browser?.close().catch(() => undefined);
    await stopped.parley?.stop().catch(() => undefined);
    await gateway.close().catch(() => undefined);
    await removeDir(webRoot);
  };
  try {
    // The build and the start of Parley (which reads WEB_ROOT only when serving) run side by side.
    const [, parley, browser] = await Promise.all([
      buildWebApp(webRoot),
      startTestParley({
        env: { WEB_ROOT: webRoot, PUBLIC_SOCKET_URL: `ws://127.0.0.1:${gateway.port}/ws`, PUBLIC_ORIGIN: gateway.url, ...env },
      }).then((started) => (stopped.parley = started)),
      launchChromium().then((launched) => (stopped.browser = launched)),
    ]);
    gateway.target(parley.addresses.edge, parley.addresses.socket);
    return { gateway, parley, browser, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// --- REST and sign-in helpers for browser tests (sessions-history.test.ts; others may reuse) ---

/** A REST call straight to the edge (not through the gateway): status and parsed JSON. */
export async function restCall(
  parley: TestParley,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: any }> {
  const response = await fetch(`http://${parley.addresses.edge}/api/v1${path}`, {
    method,
    headers: { ...(body !== undefined && { "content-type": "application/json" }), ...(token && { authorization: `Bearer ${token}` }), ...headers },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

/** Signs `person` in on their page through the sign-in form, then opens `path` and waits until live. */
export async function signInThroughForm(gateway: Gateway, person: Person, path = "/"): Promise<void> {
  const { page } = person;
  // Attached, not visible: on a phone the badge is in the closed sidebar drawer.
  const live = () => page.locator('[data-testid="connection"][data-state="live"]').waitFor({ state: "attached", timeout: 30_000 });
  await page.goto(`${gateway.url}/signin`);
  await page.getByLabel("Email or username").fill(person.username);
  await page.getByLabel("Password").fill(person.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Rooms and conversations" }).waitFor();
  await live();
  if (path !== "/") {
    await page.goto(`${gateway.url}${path}`);
    await live();
  }
}
