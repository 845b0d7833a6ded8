// Web Push (issue 18): RFC 8030 (the push service), RFC 8291 (aes128gcm payload encryption) and
// RFC 8292 (VAPID) through the `web-push` package, which encrypts and signs; the request itself is
// made here, through the SSRF-guarded agents of push-endpoint.ts, with a timeout, so that every
// answer of the push service becomes an outcome the worker acts on (sendPush never throws):
//
//   sent      2xx: the push service took it.
//   gone      404/410: the subscription is dead: delete it.
//   retry     429, 5xx, a timeout or a network error: try again later (retryAfterMs from Retry-After).
//   rejected  any other 4xx (403: the VAPID key does not match the subscription's, 413: too big,
//             400/401: malformed), or an endpoint/key the server refuses before sending: do not retry.
import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import webpush from "web-push";
import type { Notification } from "@parley/proto/notify/v1/notify_pb";
import { Reason } from "@parley/proto/notify/v1/notify_pb";
import { messageUrl } from "./links.js";
import { checkPushEndpoint, createPushAgents, PushEndpointError, type PushAgents } from "./push-endpoint.js";

/** A VAPID key pair: the public key an uncompressed P-256 point, the private key the 32-byte scalar; base64url, no padding. */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

export interface VapidDetails extends VapidKeys {
  /** Who to contact about this sender: "mailto:admin@example.com" or an https URL (RFC 8292 "sub"). */
  subject: string;
}

/** A browser's subscription (PushSubscription.toJSON(): endpoint, keys.p256dh, keys.auth). */
export interface PushTarget {
  endpoint: string;
  /** The browser's ECDH public key (65-byte P-256 point), base64url. */
  p256dh: string;
  /** The browser's 16-byte auth secret, base64url. */
  auth: string;
}

export type PushReason = "direct" | "mention" | "room_mention" | "thread_reply" | "room_message";

/** What the service worker receives (JSON, UTF-8), the Notification message in camelCase. */
export interface PushPayload {
  /** Stable per (user, message): the notification's tag. */
  id: string;
  roomId: string;
  messageId: string;
  seq: number;
  /** Present for a thread reply. */
  threadRootId?: string;
  reason: PushReason;
  senderId: string;
  senderName: string;
  /** Empty for direct conversations. */
  roomName: string;
  /** Absent when the person hides previews. */
  preview?: string;
  /** RFC 3339. */
  createTime: string;
  sound: boolean;
  /** The page the notification opens: `${PUBLIC_URL}/rooms/<roomId>?reply=<seq>[&thread=<rootId>]`. */
  url: string;
}

export type PushUrgency = "very-low" | "low" | "normal" | "high";

export interface SendPushOptions {
  /** How long the push service keeps it for an offline device (RFC 8030 TTL). Default 86400 (a day). */
  ttlSeconds?: number;
  /** RFC 8030 Urgency. Default "high" for direct messages and mentions, else "normal" (see pushUrgency). */
  urgency?: PushUrgency;
  /**
   * The idempotency key (the notification id): sent as the RFC 8030 Topic, so a repeat of the same
   * notification replaces the one still queued. Made into <= 32 url-safe characters by pushTopic.
   */
  topic?: string;
  /** Agents from createPushAgents (the SSRF guard on the connection). Default: fresh ones for this call. */
  agent?: Pick<PushAgents, "http" | "https">;
  /** NOTIFY_PUSH_ALLOWED_HOSTS: the endpoint is checked again before sending. Default none. */
  allowedHosts?: readonly string[];
  /** The whole request, connect to response. Default 10 s. */
  timeoutMs?: number;
  /** For Retry-After dates (tests). */
  now?: () => number;
}

export type PushOutcome =
  | { kind: "sent"; status: number }
  | { kind: "gone"; status: number; detail: string }
  | { kind: "retry"; status?: number; retryAfterMs?: number; detail: string }
  | { kind: "rejected"; status?: number; detail: string };

/** RFC 8291: a push message's ciphertext is at most 4096 bytes, so its plaintext at most 3993 (one record). */
export const MAX_PUSH_PAYLOAD_BYTES = 3993;
/** Notification.preview: at most 200 characters. */
export const MAX_PREVIEW_CHARS = 200;
export const DEFAULT_PUSH_TTL_SECONDS = 86_400;
export const DEFAULT_PUSH_TIMEOUT_MS = 10_000;

/** A new VAPID key pair (P-256). */
export function generateVapidKeys(): VapidKeys {
  const { publicKey, privateKey } = webpush.generateVAPIDKeys();
  return { publicKey, privateKey };
}

const REASONS: Record<Reason, PushReason | undefined> = {
  [Reason.UNSPECIFIED]: undefined,
  [Reason.DIRECT]: "direct",
  [Reason.MENTION]: "mention",
  [Reason.ROOM_MENTION]: "room_mention",
  [Reason.THREAD_REPLY]: "thread_reply",
  [Reason.ROOM_MESSAGE]: "room_message",
};

/** The push payload of a Notification: preview left out when the person hides previews. */
export function pushPayload(notification: Notification, options: { publicUrl: string; hidePreviews: boolean }): PushPayload {
  const reason = REASONS[notification.reason];
  if (!reason) throw new Error(`push payload: notification ${notification.id} has no reason`);
  const createTime = notification.createTime
    ? new Date(Number(notification.createTime.seconds) * 1000 + Math.floor(notification.createTime.nanos / 1e6)).toISOString()
    : new Date(0).toISOString();
  const payload: PushPayload = {
    id: notification.id,
    roomId: notification.roomId,
    messageId: notification.messageId,
    seq: Number(notification.seq),
    reason,
    senderId: notification.senderId,
    senderName: notification.senderName,
    roomName: notification.roomName,
    createTime,
    sound: notification.sound,
    url: messageUrl(options.publicUrl, notification.roomId, notification.seq, notification.threadRootId || undefined),
  };
  if (notification.threadRootId) payload.threadRootId = notification.threadRootId;
  if (!options.hidePreviews && notification.preview) payload.preview = truncateChars(notification.preview, MAX_PREVIEW_CHARS);
  return payload;
}

/** "high" for what concerns the person directly, "normal" for the rest. */
export function pushUrgency(reason: PushReason): PushUrgency {
  return reason === "direct" || reason === "mention" ? "high" : "normal";
}

/**
 * The payload as it is sent: JSON within MAX_PUSH_PAYLOAD_BYTES, shortening the preview first,
 * then the names, then leaving the preview out.
 */
export function encodePushPayload(payload: PushPayload): Buffer {
  let current: PushPayload = { ...payload };
  const size = (p: PushPayload) => Buffer.byteLength(JSON.stringify(p), "utf8");
  if (size(current) <= MAX_PUSH_PAYLOAD_BYTES) return Buffer.from(JSON.stringify(current), "utf8");
  if (current.preview !== undefined) {
    // Characters are at most 4 bytes in UTF-8 (6 as a JSON escape): cut by what is over, then tighten.
    let chars = [...current.preview].length;
    while (chars > 0 && size(current) > MAX_PUSH_PAYLOAD_BYTES) {
      const over = size(current) - MAX_PUSH_PAYLOAD_BYTES;
      chars = Math.max(0, chars - Math.max(1, Math.ceil(over / 6)));
      current = { ...current, preview: truncateChars(payload.preview!, chars) };
    }
  }
  if (size(current) > MAX_PUSH_PAYLOAD_BYTES) {
    current = { ...current, senderName: truncateChars(current.senderName, 64), roomName: truncateChars(current.roomName, 64) };
  }
  if (size(current) > MAX_PUSH_PAYLOAD_BYTES) {
    const { preview: _dropped, ...rest } = current;
    current = rest;
  }
  const body = Buffer.from(JSON.stringify(current), "utf8");
  if (body.length > MAX_PUSH_PAYLOAD_BYTES) throw new Error(`push payload: ${body.length} bytes even without the preview`);
  return body;
}

const TOPIC = /^[A-Za-z0-9_-]{1,32}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * An RFC 8030 Topic (<= 32 characters of the base64url alphabet) for an idempotency key: the key
 * itself when it is one, a UUID without its dashes, else the start of its SHA-256 in base64url.
 * The same key always gives the same topic.
 */
export function pushTopic(key: string): string {
  if (TOPIC.test(key)) return key;
  if (UUID.test(key)) return key.replaceAll("-", "").toLowerCase();
  return createHash("sha256").update(key, "utf8").digest("base64url").slice(0, 32);
}

/**
 * Delay from a Retry-After header (delta-seconds or an HTTP date), in ms; undefined when absent or
 * unreadable. A date in the past is 0.
 */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Sends one push; the outcome says what to do next. Never throws. */
export async function sendPush(
  subscription: PushTarget,
  payload: PushPayload,
  vapid: VapidDetails,
  options: SendPushOptions = {},
): Promise<PushOutcome> {
  let url: URL;
  try {
    url = checkPushEndpoint(subscription.endpoint, options.allowedHosts ?? []);
  } catch (error) {
    return { kind: "rejected", detail: error instanceof Error ? error.message : String(error) };
  }
  let details: webpush.RequestDetails;
  try {
    const body = encodePushPayload(payload);
    details = webpush.generateRequestDetails({ endpoint: url.href, keys: { p256dh: subscription.p256dh, auth: subscription.auth } }, body, {
      vapidDetails: vapid,
      TTL: options.ttlSeconds ?? DEFAULT_PUSH_TTL_SECONDS,
      contentEncoding: "aes128gcm",
      urgency: options.urgency ?? pushUrgency(payload.reason),
      ...(options.topic ? { topic: pushTopic(options.topic) } : {}),
    });
  } catch (error) {
    // Bad subscription keys, bad VAPID keys or subject: nothing a retry changes.
    return { kind: "rejected", detail: `push: ${error instanceof Error ? error.message : String(error)}` };
  }
  const ownAgents = options.agent ? undefined : createPushAgents(options.allowedHosts ?? [], { keepAlive: false });
  const agents = options.agent ?? ownAgents!;
  try {
    const response = await post(url, details, url.protocol === "https:" ? agents.https : agents.http, options.timeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS);
    return outcomeOf(response, options.now?.() ?? Date.now());
  } catch (error) {
    if (error instanceof PushEndpointError) return { kind: "rejected", detail: error.message };
    const e = error as NodeJS.ErrnoException;
    return { kind: "retry", detail: `push: ${e.code ? `${e.code} ` : ""}${e.message}` };
  } finally {
    ownAgents?.destroy();
  }
}

interface PushResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function outcomeOf(response: PushResponse, now: number): PushOutcome {
  const { status } = response;
  const detail = `push service answered ${status}${response.body ? `: ${response.body}` : ""}`;
  if (status >= 200 && status < 300) return { kind: "sent", status };
  if (status === 404 || status === 410) return { kind: "gone", status, detail };
  if (status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers["retry-after"], now);
    return retryAfterMs === undefined ? { kind: "retry", status, detail } : { kind: "retry", status, retryAfterMs, detail };
  }
  return { kind: "rejected", status, detail };
}

/** The most of a push service's answer kept for the outcome's detail. */
const MAX_DETAIL = 500;

function post(url: URL, details: webpush.RequestDetails, agent: http.Agent, timeoutMs: number): Promise<PushResponse> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === "https:" ? https.request : http.request)(
      url,
      { method: "POST", headers: details.headers as http.OutgoingHttpHeaders, agent, timeout: timeoutMs },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          if (body.length < MAX_DETAIL) body += chunk;
        });
        response.on("end", () => {
          clearTimeout(deadline);
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: body.slice(0, MAX_DETAIL).trim() });
        });
        response.on("error", fail);
      },
    );
    // `timeout` above is idleness; this bounds the whole exchange.
    const deadline = setTimeout(() => request.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" })), timeoutMs);
    function fail(error: Error) {
      clearTimeout(deadline);
      reject(error);
    }
    request.on("timeout", () => request.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" })));
    request.on("error", fail);
    request.end(details.body ?? undefined);
  });
}

function truncateChars(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  if (max <= 0) return "";
  return `${chars.slice(0, max - 1).join("")}…`;
}
