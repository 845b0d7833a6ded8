// Part of `npm run test:image`: the smoke test of docker-compose.yml, through the gateway only.
// Registers two users, creates a room, sends over REST, receives over WebSockets through the
// gateway (two clients, which the gateway spreads over both socket nodes), then stops and starts
// the message service and one socket node while messages keep being sent; every client must
// end with every message of the room exactly once, in seq order (resumed, nothing lost). Then
// files (issue 19): a PNG uploaded through the gateway, sent, downloaded, and its thumbnail
// (made by sharp in the message service's image: this proves its native binary loads there).
// Env: PARLEY_GATEWAY (http://127.0.0.1:8080), PARLEY_COMPOSE_PROJECT, DOCKER_HOST (podman's API).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { LiveClient, uploadFile, UploadError, type ConnectionState, type FileJson, type Message } from "@parley/client";
import WebSocket from "ws";

const gateway = process.env.PARLEY_GATEWAY ?? "http://127.0.0.1:8080";
const project = process.env.PARLEY_COMPOSE_PROJECT ?? "parleytest";
const PASSWORD = "correct horse battery staple";
const T0 = Date.now();
const log = (text: string) => console.log(`    [${((Date.now() - T0) / 1000).toFixed(1)} s] ${text}`);

interface Account {
  accessToken: string;
  user: { id: string };
}

async function rest<T>(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; json: T }> {
  const res = await fetch(`${gateway}/api/v1${path}`, {
    method,
    headers: { ...(body !== undefined && { "content-type": "application/json" }), ...(token && { authorization: `Bearer ${token}` }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

async function expectStatus<T>(status: number, call: Promise<{ status: number; json: T }>, what: string): Promise<T> {
  const res = await call;
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json;
}

/** A send over REST, retried with its clientMsgId while a service is down or slow: one message whatever happens. */
async function sendOverRest(token: string, roomId: string, body: string): Promise<Message> {
  const clientMsgId = `smoke-${randomBytes(6).toString("hex")}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await rest<Message & { seq: string }>("POST", "/messages", { roomId, body, clientMsgId }, token);
      if (res.status === 201) return res.json;
      if (!TRANSIENT.includes(res.status) || Date.now() > deadline) throw new Error(`send "${body}": ${res.status} ${JSON.stringify(res.json)}`);
    } catch (error) {
      if (Date.now() > deadline || !(error instanceof TypeError)) throw error; // TypeError: fetch failed (gateway reset)
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function compose(...args: string[]) {
  const result = spawnSync("docker-compose", ["-p", project, "-f", "docker-compose.yml", ...args], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`docker-compose ${args.join(" ")}: ${result.stderr}`);
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 120_000) {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const TRANSIENT = [408, 502, 503, 504];

/**
 * The first calls after a cold start can outlast the edge's 5 s deadline on a loaded machine
 * (408): retried, each time under a new name, because a registration that timed out may have
 * created the user without its credentials (seen here: the next try gets 409, and signing in 401).
 */
async function register(name: string): Promise<Account> {
  for (let attempt = 1; ; attempt++) {
    const username = `${name}_${suffix}_${attempt}`;
    const res = await rest<Account>("POST", "/auth/register", { email: `${username}@example.com`, username, password: PASSWORD });
    if (res.status === 201) return res.json;
    if (!TRANSIENT.includes(res.status) || attempt >= 15) throw new Error(`register ${name}: ${res.status} ${JSON.stringify(res.json)}`);
    log(`register ${name}: ${res.status}, again`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function transientRetried<T>(status: number, call: () => Promise<{ status: number; json: T }>, what: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const res = await call();
    if (res.status === status) return res.json;
    if (!TRANSIENT.includes(res.status) || attempt >= 10) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.json)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const suffix = randomBytes(3).toString("hex");

const alice = await register("alice");
const bob = await register("bob");
/** The object with this name and an id, wherever the answer nests it. */
function findRoom(value: unknown, name: string): { id: string } | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const record = value as Record<string, unknown>;
  if (record.name === name && typeof record.id === "string") return { id: record.id };
  for (const inner of Object.values(record)) {
    const found = findRoom(inner, name);
    if (found) return found;
  }
  return undefined;
}

/** Creates the room; after a timeout, looks for it among alice's rooms first (creation is not idempotent). */
async function createRoom(name: string): Promise<{ id: string }> {
  for (let attempt = 1; ; attempt++) {
    const res = await rest<{ id: string }>("POST", "/rooms", { name, visibility: "public" }, alice.accessToken);
    if (res.status === 201) return res.json;
    if (!TRANSIENT.includes(res.status) || attempt >= 10) throw new Error(`create room: ${res.status} ${JSON.stringify(res.json)}`);
    log(`create room: ${res.status}, again`);
    const mine = await rest<unknown>("GET", "/rooms", undefined, alice.accessToken);
    const existing = mine.status === 200 ? findRoom(mine.json, name) : undefined;
    if (existing) return existing;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
const room = await createRoom(`smoke ${suffix}`);
await transientRetried(200, () => rest("POST", `/rooms/${room.id}/join`, undefined, bob.accessToken), "bob joins");
log(`registered alice and bob, room ${room.id}`);

// Two clients of bob: the gateway (leastconn) puts the second on the other socket node.
const clients = [0, 1].map((i) => {
  const client = new LiveClient({
    url: `${gateway.replace(/^http/, "ws")}/ws`,
    getToken: async () => bob.accessToken,
    WebSocket: WebSocket as never,
    backoff: { baseMs: 200, maxMs: 2000 },
  });
  const seqs: bigint[] = [];
  const states: ConnectionState[] = [];
  client.on("message", (m: Message) => void seqs.push(m.seq));
  client.on("state", (s: ConnectionState) => void states.push(s));
  client.subscribe(room.id, 0n);
  client.connect();
  return { client, seqs, states, name: `client ${i + 1}` };
});
await waitFor("both clients live", () => clients.every((c) => c.client.connectionState === "live"));
log("both WebSocket clients are live through the gateway");

let sent = 0;
const sendSome = async (n: number, label: string) => {
  for (let i = 0; i < n; i++) await sendOverRest(alice.accessToken, room.id, `${label} ${++sent}`);
};
const allReceived = () => clients.every((c) => c.seqs.length >= sent);

await sendSome(3, "before");
await waitFor("the first messages over the WebSockets", allReceived);
log(`sent ${sent} over REST, both clients received them over the WebSocket`);

compose("stop", "-t", "20", "message");
log("message service stopped");
const whileDown = sendSome(2, "message-service-down");
compose("start", "message");
await whileDown;
await waitFor("the messages sent around the message service's restart", allReceived);
log(`message service restarted; ${sent} messages, all received`);

compose("stop", "-t", "20", "socket-1");
log("socket-1 stopped");
await sendSome(3, "socket-1-down");
compose("start", "socket-1");
await sendSome(2, "after");
await waitFor("the messages sent while socket-1 was down", allReceived);
log(`socket-1 restarted; ${sent} messages`);

const history = await transientRetried<{ messages: { seq: string }[] }>(200, () => rest("GET", `/messages/${room.id}?limit=100`, undefined, bob.accessToken), "history");
const expected = Array.from({ length: sent }, (_, i) => BigInt(i + 1));
const problems: string[] = [];
if (history.messages.map((m) => BigInt(m.seq)).sort((a, b) => (a < b ? -1 : 1)).join() !== expected.join()) {
  problems.push(`history has seqs ${history.messages.map((m) => m.seq).join(",")}, expected 1..${sent}`);
}
for (const c of clients) {
  if (c.seqs.join() !== expected.join()) problems.push(`${c.name} received seqs ${c.seqs.join(",")}, expected 1..${sent} once each, in order`);
  log(`${c.name}: ${c.seqs.length} messages in order; states ${c.states.join(" > ")}`);
}
if (!clients.some((c) => c.states.includes("reconnecting"))) problems.push("no client lost its socket node: the resume path was not exercised");
for (const c of clients) c.client.close();
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
log("nothing lost, nothing twice, across a message service and a socket node restart");

// --- files (issue 19): through the gateway, on the compose deployment's storage ---
// A 24 x 16 RGB PNG (made by edge/test/files-fixtures.ts png(24, 16)).
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAABgAAAAQCAIAAACDRijCAAACt0lEQVR4nAXBEQ+GQBzA4b9HSV6cHeTtNGzL2w7T22s/aQvTWx5k8eVJlJ9HSR/g3ucRERIhE3KhFCqhFhqhE3phEH7CKMzCIqzCLhzCKdxCEB7hE6IgkpKkZCl5SplSpdQpTUqX0qcMKb+UMWVOWVLWlD3lSDlT7pSQ8qR8KTFFpCApyArygrKgKqgLmoKuoC8YCn4FY8FcsBSsBXvBUXAW3AWh4Cn4CmKBiCJRZIpcUSoqRa1oFJ2iVwyKn2JUzIpFsSp2xaE4FbciKB7Fp4gKEU2iyTS5ptRUmlrTaDpNrxk0P82omTWLZtXsmkNzam5N0DyaTxM1Ii1JS9aSt5QtVUvd0rR0LX3L0PJrGVvmlqVlbdlbjpaz5W4JLU/L1xJbRAyJITPkhtJQGWpDY+gMvWEw/AyjYTYshtWwGw7DabgNwfAYPkM0iFgSS2bJLaWlstSWxtJZestg+VlGy2xZLKtltxyW03JbguWxfJZoEZlIJrKJfKKcqCbqiWaim+gnhonfxDgxTywT68Q+cUycE/dEmHgmvok4IeJIHJkjd5SOylE7Gkfn6B2D4+cYHbNjcayO3XE4TsftCI7H8TmiQ2Qj2cg28o1yo9qoN5qNbqPfGDZ+G+PGvLFsrBv7xrFxbtwbYePZ+Dbihogn8WSe3FN6Kk/taTydp/cMnp9n9MyexbN6ds/hOT23J3gez+eJHpGL5CK7yC/Ki+qivmguuov+Yrj4XYwX88VysV7sF8fFeXFfhIvn4ruIFyKBJJAF8kAZqAJ1oAl0gT4wBH6BMTAHlsAa2ANH4AzcgRB4Al8gBkRekpfsJX8pX6qX+qV56V76l+Hl9zK+zC/Ly/qyvxwv58v9El6el+8lvohEkkgWySNlpIrUkSbSRfrIEPlFxsgcWSJrZI8ckTNyR0LkiXyRGPkDcE897yuyUAIAAAAASUVORK5CYII=",
  "base64",
);

/** An upload through the gateway, retried while a service is still coming back (an upload that failed stored nothing). */
async function uploadPng(): Promise<FileJson> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await uploadFile({ baseUrl: gateway, roomId: room.id, file: new Blob([PNG]), name: "smoke.png", token: alice.accessToken });
    } catch (error) {
      const status = error instanceof UploadError ? error.status : 0;
      if (!(status === 0 || TRANSIENT.includes(status)) || attempt >= 10) throw error;
      log(`upload: ${error instanceof Error ? error.message : String(error)}, again`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function fetchBytes(path: string, token?: string): Promise<{ status: number; type: string; bytes: Buffer }> {
  const res = await fetch(`${gateway}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, type: res.headers.get("content-type") ?? "", bytes: Buffer.from(await res.arrayBuffer()) };
}

const uploaded = await uploadPng();
const fileProblems: string[] = [];
if (uploaded.mediaType !== "image/png" || uploaded.width !== 24 || uploaded.height !== 16) fileProblems.push(`upload: ${JSON.stringify(uploaded)}, expected a 24 x 16 image/png`);
if (!uploaded.thumbnail) fileProblems.push("upload: no thumbnail (sharp did not run in the message service's image?)");
const withFile = await transientRetried<Message & { attachments: FileJson[] }>(
  201,
  () => rest("POST", "/messages", { roomId: room.id, body: "a picture", clientMsgId: `smoke-file-${suffix}`, fileIds: [uploaded.id] }, alice.accessToken),
  "send with the file",
);
if (withFile.attachments.map((a) => a.id).join() !== uploaded.id) fileProblems.push(`send: attachments ${JSON.stringify(withFile.attachments)}`);
const original = await fetchBytes(`/api/v1/files/${uploaded.id}/content`, bob.accessToken);
if (original.status !== 200 || original.type !== "image/png" || original.bytes.length !== PNG.length) {
  fileProblems.push(`download: ${original.status} ${original.type}, ${original.bytes.length} bytes (uploaded ${PNG.length})`);
}
const signed = await transientRetried<{ urls: { url: string }[] }>(
  200,
  () => rest("POST", "/files/signed-urls", { fileIds: [uploaded.id], variant: "thumbnail" }, bob.accessToken),
  "sign the thumbnail's URL",
);
const thumbnail = signed.urls[0] ? await fetchBytes(signed.urls[0].url) : undefined;
if (!thumbnail || thumbnail.status !== 200 || thumbnail.type !== "image/webp" || thumbnail.bytes.subarray(8, 12).toString("ascii") !== "WEBP") {
  fileProblems.push(`thumbnail: ${thumbnail ? `${thumbnail.status} ${thumbnail.type}` : "no signed URL"}`);
}
if (fileProblems.length) {
  console.error(fileProblems.join("\n"));
  process.exit(1);
}
log(`files: a PNG uploaded, sent, downloaded (${original.bytes.length} bytes) and its WebP thumbnail (${thumbnail!.bytes.length} bytes) by a signed URL`);
log("smoke test passed: nothing lost, nothing twice, across a message service and a socket node restart; files stored and served");
