// A Web Push service played by a test (issue 18): a local HTTP endpoint that does what a browser's
// push service and the browser do together: it checks each request's VAPID authorization (RFC 8292:
// an ES256 JWT signed with the key in k=, aud the endpoint's origin, exp within 24 hours, sub set)
// and the RFC 8030 headers, decrypts the aes128gcm body (RFC 8291) with the keys of the subscription
// it made for the "browser", and answers 201, or what the test asked for.
//
// Only what it accepted is counted: `received` holds the pushes it answered 2xx to and whose answer
// it finished writing while the sender was still connected. A test can hold the answer to the Nth
// request (hold(n)), kill the sender meanwhile, then release it: that push is not counted.
//
//   const sink = await startPushSink();
//   const sub = sink.subscribe();                   // { endpoint, p256dh, auth, keys }
//   ... sendPush(sub, payload, vapid, { allowedHosts: sink.allowedHosts })
//   const [push] = await sink.waitForReceived(1);   // push.json, push.topic, push.vapid ...
//   sink.expire(sub);                               // 410 from now on
//   sink.reply(sub, { status: 429, headers: { "retry-after": "7" } });  // the next answer only
//   await sink.close();
import { createECDH, randomBytes, randomUUID, type ECDH } from "node:crypto";
import { EventEmitter } from "node:events";
import { createHold, waitUntil, type HoldState } from "./sink-events.js";
import http from "node:http";
import type { AddressInfo } from "node:net";
import ece from "http_ece";
import { importJWK, jwtVerify } from "jose";

export interface SinkSubscription {
  id: string;
  /** `${origin}/push/<id>` */
  endpoint: string;
  /** The browser's ECDH public key, base64url (PushSubscription.toJSON().keys.p256dh). */
  p256dh: string;
  /** The browser's auth secret, base64url. */
  auth: string;
  keys: { p256dh: string; auth: string };
  /** The applicationServerKey it was made with: a push signed with another key is refused (403). */
  vapidPublicKey?: string;
}

export interface ReceivedPush {
  /** Which request this was (1-based, over the sink's life). */
  n: number;
  subscriptionId: string;
  endpoint: string;
  headers: http.IncomingHttpHeaders;
  ttl: number;
  urgency?: string;
  topic?: string;
  vapid: { publicKey: string; subject: string; audience: string; expiresAt: number };
  /** The encrypted body as sent. */
  body: Buffer;
  /** The decrypted payload. */
  plaintext: string;
  /** The payload parsed as JSON (undefined when it is not JSON). */
  json: unknown;
  /** What the sink answered. */
  status: number;
}

export interface RefusedPush {
  n: number;
  subscriptionId?: string;
  status: number;
  reason: string;
}

export interface PushSinkReply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface PushSinkHold {
  /** The request number held. */
  n: number;
  /** Resolves when the Nth request arrived (checked, decrypted, its answer chosen and held). */
  arrived: Promise<{ push?: ReceivedPush; refused?: RefusedPush }>;
  /** Sends the held answer (or `reply` instead); resolves whether the push was counted as accepted. */
  release(reply?: PushSinkReply): Promise<boolean>;
}

export interface PushSink {
  /** "http://127.0.0.1:<port>" */
  origin: string;
  /** For NOTIFY_PUSH_ALLOWED_HOSTS / allowedHosts: ["127.0.0.1:<port>"]. */
  allowedHosts: string[];
  /** A new browser subscription (its key pair and auth secret stay in the sink to decrypt). */
  subscribe(options?: { vapidPublicKey?: string }): SinkSubscription;
  /** Answers the next requests to this subscription with these replies, one each, then 201 again. */
  reply(subscription: SinkSubscription | string, ...replies: PushSinkReply[]): void;
  /** The subscription is gone: 410 from now on. */
  expire(subscription: SinkSubscription | string): void;
  /** Holds the answer to the Nth request (1-based over the sink's life; default: the next one). */
  hold(n?: number): PushSinkHold;
  /** Every request seen, accepted or not. */
  readonly requests: number;
  /** The pushes accepted (2xx, answer delivered to a connected sender), in order. */
  readonly received: readonly ReceivedPush[];
  /** Requests refused: bad VAPID, bad headers, undecryptable, unknown or expired subscription, or a scripted non-2xx. */
  readonly refused: readonly RefusedPush[];
  /** Resolves once `count` pushes were accepted (all of them); rejects after timeoutMs. */
  waitForReceived(count: number, timeoutMs?: number): Promise<ReceivedPush[]>;
  /** Resolves once `count` requests arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

interface Browser {
  subscription: SinkSubscription;
  ecdh: ECDH;
  replies: PushSinkReply[];
  expired: boolean;
}


/**
 * Two turns of the event loop: a sender that closed its connection (or was killed) before a held
 * answer is released has its FIN already in the kernel; the poll phase between the two turns reads
 * it, so the answer is known to go to nobody and is not counted.
 */
export const settled = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

const MAX_VAPID_LIFETIME_S = 24 * 60 * 60;
const MAX_BODY = 4096;

export async function startPushSink(options: { host?: string } = {}): Promise<PushSink> {
  const host = options.host ?? "127.0.0.1";
  const browsers = new Map<string, Browser>();
  const holds = new Map<number, HoldState<{ push?: ReceivedPush; refused?: RefusedPush }, PushSinkReply>>();
  const received: ReceivedPush[] = [];
  const refused: RefusedPush[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let requests = 0;
  let origin = "";

  const server = http.createServer((req, res) => {
    const n = ++requests;
    events.emit("request");
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY + 1) chunks.push(chunk);
    });
    req.on("end", () => {
      void handle(n, req, res, Buffer.concat(chunks), size);
    });
  });

  async function handle(n: number, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, size: number) {
    let senderGone = false;
    res.on("close", () => {
      if (!res.writableFinished) senderGone = true;
    });
    const id = /^\/push\/([^/?]+)$/.exec(new URL(req.url ?? "/", origin).pathname)?.[1];
    const browser = id ? browsers.get(id) : undefined;
    let reply: PushSinkReply;
    let push: ReceivedPush | undefined;
    let refusal: RefusedPush | undefined;
    const refuse = (status: number, reason: string) => {
      refusal = { n, ...(browser ? { subscriptionId: browser.subscription.id } : {}), status, reason };
      return { status, body: reason };
    };
    if (req.method !== "POST") reply = refuse(405, "push: POST only");
    else if (!browser) reply = refuse(404, "push: no such subscription");
    else if (browser.expired) reply = refuse(410, "push: subscription expired");
    else {
      const checked = await check(req, body, size, browser);
      if ("refuse" in checked) reply = refuse(checked.refuse, checked.reason);
      else {
        reply = browser.replies.shift() ?? { status: 201 };
        push = { n, subscriptionId: browser.subscription.id, endpoint: browser.subscription.endpoint, ...checked, status: reply.status };
        if (reply.status < 200 || reply.status >= 300) refuse(reply.status, "push: scripted answer");
      }
    }
    const hold = holds.get(n);
    let counted = false;
    if (hold) {
      hold.arrived(refusal ? { ...(push ? { push } : {}), refused: refusal } : { push });
      const instead = await hold.released;
      await settled();
      if (instead) {
        reply = instead;
        if (push) push = { ...push, status: instead.status };
        refusal = instead.status >= 200 && instead.status < 300 ? undefined : { n, subscriptionId: push?.subscriptionId, status: instead.status, reason: "push: scripted answer" };
      }
    }
    try {
      // nobody to answer: not accepted
      if (senderGone || res.destroyed || req.socket.destroyed || req.socket.readableEnded) return;
      const accepted = !!push && reply.status >= 200 && reply.status < 300;
      const finished = new Promise<boolean>((resolve) => {
        res.on("finish", () => resolve(true));
        res.on("close", () => resolve(res.writableFinished));
      });
      res.writeHead(reply.status, { "content-type": "text/plain", ...(accepted ? { location: `${origin}/message/${randomUUID()}` } : {}), ...reply.headers });
      res.end(reply.body ?? "");
      const delivered = await finished;
      if (!delivered || senderGone) return;
      if (accepted) {
        received.push(push!);
        counted = true;
        events.emit("received");
      } else if (refusal) {
        refused.push(refusal);
        events.emit("refused");
      }
    } finally {
      hold?.setCounted(counted);
    }
  }

  async function check(
    req: http.IncomingMessage,
    body: Buffer,
    size: number,
    browser: Browser,
  ): Promise<Omit<ReceivedPush, "n" | "subscriptionId" | "endpoint" | "status"> | { refuse: number; reason: string }> {
    // RFC 8292: Authorization: vapid t=<JWT>, k=<public key>
    const authorization = req.headers.authorization ?? "";
    const match = /^vapid\s+(.+)$/i.exec(authorization);
    if (!match) return { refuse: 401, reason: "vapid: no Authorization: vapid t=..., k=..." };
    const params = Object.fromEntries(
      match[1]!.split(",").map((part) => {
        const at = part.indexOf("=");
        return [part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim()];
      }),
    );
    const token = params.t;
    const k = params.k;
    if (!token || !k) return { refuse: 401, reason: "vapid: t= and k= are required" };
    const point = Buffer.from(k, "base64url");
    if (point.length !== 65 || point[0] !== 4) return { refuse: 401, reason: "vapid: k is not an uncompressed P-256 point" };
    let claims: { aud?: unknown; exp?: number; sub?: unknown };
    try {
      const key = await importJWK(
        { kty: "EC", crv: "P-256", x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33).toString("base64url") },
        "ES256",
      );
      ({ payload: claims } = await jwtVerify(token, key, { algorithms: ["ES256"], audience: origin, requiredClaims: ["aud", "exp", "sub"] }));
    } catch (error) {
      return { refuse: 401, reason: `vapid: ${(error as Error).message}` };
    }
    const now = Math.floor(Date.now() / 1000);
    if (claims.exp! > now + MAX_VAPID_LIFETIME_S + 60) return { refuse: 401, reason: "vapid: exp more than 24 hours ahead" };
    const subject = String(claims.sub ?? "");
    if (!/^(mailto:|https:)/.test(subject)) return { refuse: 401, reason: "vapid: sub must be a mailto: or https: URL" };
    if (browser.subscription.vapidPublicKey && browser.subscription.vapidPublicKey !== k) {
      return { refuse: 403, reason: "vapid: the key does not match the subscription's applicationServerKey" };
    }
    // RFC 8030 headers
    const ttlHeader = req.headers.ttl;
    if (typeof ttlHeader !== "string" || !/^\d+$/.test(ttlHeader)) return { refuse: 400, reason: "push: TTL header required" };
    const urgency = req.headers.urgency as string | undefined;
    if (urgency !== undefined && !["very-low", "low", "normal", "high"].includes(urgency)) return { refuse: 400, reason: "push: bad Urgency" };
    const topic = req.headers.topic as string | undefined;
    if (topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(topic)) return { refuse: 400, reason: "push: Topic must be <= 32 url-safe characters" };
    if (size > MAX_BODY) return { refuse: 413, reason: "push: payload over 4096 bytes" };
    if (req.headers["content-encoding"] !== "aes128gcm") return { refuse: 415, reason: "push: Content-Encoding must be aes128gcm" };
    // RFC 8291: decrypt with the browser's private key and auth secret.
    let plaintext: string;
    try {
      plaintext = ece.decrypt(body, { version: "aes128gcm", privateKey: browser.ecdh, authSecret: browser.subscription.auth }).toString("utf8");
    } catch (error) {
      return { refuse: 400, reason: `push: cannot decrypt: ${(error as Error).message}` };
    }
    let json: unknown;
    try {
      json = JSON.parse(plaintext);
    } catch {
      json = undefined;
    }
    return {
      headers: req.headers,
      ttl: Number(ttlHeader),
      ...(urgency !== undefined ? { urgency } : {}),
      ...(topic !== undefined ? { topic } : {}),
      vapid: { publicKey: k, subject, audience: String(claims.aud), expiresAt: claims.exp! },
      body,
      plaintext,
      json,
    };
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const hostPort = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  origin = `http://${hostPort}`;

  const browserOf = (subscription: SinkSubscription | string) => {
    const id = typeof subscription === "string" ? subscription : subscription.id;
    const browser = browsers.get(id);
    if (!browser) throw new Error(`push sink: no subscription ${id}`);
    return browser;
  };


  return {
    origin,
    allowedHosts: [hostPort],
    subscribe(subscribeOptions = {}) {
      const ecdh = createECDH("prime256v1");
      ecdh.generateKeys();
      const id = randomUUID();
      const p256dh = ecdh.getPublicKey().toString("base64url");
      const auth = randomBytes(16).toString("base64url");
      const subscription: SinkSubscription = {
        id,
        endpoint: `${origin}/push/${id}`,
        p256dh,
        auth,
        keys: { p256dh, auth },
        ...(subscribeOptions.vapidPublicKey ? { vapidPublicKey: subscribeOptions.vapidPublicKey } : {}),
      };
      browsers.set(id, { subscription, ecdh, replies: [], expired: false });
      return subscription;
    },
    reply(subscription, ...replies) {
      browserOf(subscription).replies.push(...replies);
    },
    expire(subscription) {
      browserOf(subscription).expired = true;
    },
    hold(n = requests + 1) {
      if (holds.has(n)) throw new Error(`push sink: request ${n} is already held`);
      const { state, hold } = createHold<{ push?: ReceivedPush; refused?: RefusedPush }, PushSinkReply>(n);
      holds.set(n, state);
      return hold;
    },
    get requests() {
      return requests;
    },
    received,
    refused,
    async waitForReceived(count, timeoutMs = 10_000) {
      await waitUntil(events, "push sink", () => received.length >= count, "received", timeoutMs, () => `${received.length} of ${count} pushes received`);
      return received.slice();
    },
    waitForRequests(count, timeoutMs = 10_000) {
      return waitUntil(events, "push sink", () => requests >= count, "request", timeoutMs, () => `${requests} of ${count} requests`);
    },
    async close() {
      for (const hold of holds.values()) hold.release(undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
