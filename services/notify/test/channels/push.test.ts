import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { NotificationSchema, Reason } from "@parley/proto/notify/v1/notify_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPushAgents } from "../../src/channels/push-endpoint.js";
import {
  encodePushPayload,
  generateVapidKeys,
  MAX_PUSH_PAYLOAD_BYTES,
  parseRetryAfter,
  pushPayload,
  pushTopic,
  sendPush,
  type PushPayload,
  type VapidDetails,
} from "../../src/channels/push.js";
import { startPushSink, type PushSink } from "../support/push-sink.js";

const PUBLIC_URL = "https://chat.example.com";

function notification(overrides: MessageInitShape<typeof NotificationSchema> = {}) {
  return create(NotificationSchema, {
    id: "0190f3a2-7b1c-7def-8123-456789abcdef",
    roomId: "room-1",
    messageId: "msg-1",
    seq: 42n,
    reason: Reason.MENTION,
    senderId: "user-2",
    senderName: "Ada Lovelace",
    roomName: "engineering",
    preview: "@grace can you look at the build?",
    createTime: timestampFromDate(new Date("2026-12-04T03:00:00.000Z")),
    sound: true,
    ...overrides,
  });
}

describe("VAPID keys", () => {
  it("makes P-256 key pairs in base64url", () => {
    const keys = generateVapidKeys();
    const pub = Buffer.from(keys.publicKey, "base64url");
    expect(pub).toHaveLength(65);
    expect(pub[0]).toBe(4);
    expect(Buffer.from(keys.privateKey, "base64url")).toHaveLength(32);
    expect(keys.publicKey).not.toMatch(/[+/=]/);
    expect(generateVapidKeys().publicKey).not.toBe(keys.publicKey);
  });
});

describe("push payload", () => {
  it("carries the notification in camelCase with the URL to open", () => {
    expect(pushPayload(notification(), { publicUrl: PUBLIC_URL + "/", hidePreviews: false })).toEqual({
      id: "0190f3a2-7b1c-7def-8123-456789abcdef",
      roomId: "room-1",
      messageId: "msg-1",
      seq: 42,
      reason: "mention",
      senderId: "user-2",
      senderName: "Ada Lovelace",
      roomName: "engineering",
      preview: "@grace can you look at the build?",
      createTime: "2026-12-04T03:00:00.000Z",
      sound: true,
      url: "https://chat.example.com/rooms/room-1?reply=42",
    });
  });

  it("leaves the preview out when the person hides previews, and links thread replies to their thread", () => {
    const payload = pushPayload(notification({ reason: Reason.THREAD_REPLY, threadRootId: "root-9" }), { publicUrl: PUBLIC_URL, hidePreviews: true });
    expect(payload).not.toHaveProperty("preview");
    expect(payload.threadRootId).toBe("root-9");
    expect(payload.reason).toBe("thread_reply");
    expect(payload.url).toBe("https://chat.example.com/rooms/room-1?reply=42&thread=root-9");
  });

  it("stays within 4 KB, shortening the preview", () => {
    const base = pushPayload(notification(), { publicUrl: PUBLIC_URL, hidePreviews: false });
    const huge: PushPayload = { ...base, preview: "😀".repeat(5000), senderName: "n".repeat(3000) };
    const body = encodePushPayload(huge);
    expect(body.length).toBeLessThanOrEqual(MAX_PUSH_PAYLOAD_BYTES);
    const decoded = JSON.parse(body.toString("utf8")) as PushPayload;
    expect(decoded.id).toBe(base.id);
    expect(decoded.url).toBe(base.url);
    const long = encodePushPayload({ ...base, preview: "x".repeat(3900) });
    expect(long.length).toBeLessThanOrEqual(MAX_PUSH_PAYLOAD_BYTES);
    const preview = (JSON.parse(long.toString("utf8")) as PushPayload).preview!;
    expect(preview.endsWith("…")).toBe(true);
    expect(preview.length).toBeGreaterThan(3000);
    expect(encodePushPayload(base).toString("utf8")).toBe(JSON.stringify(base)); // small ones untouched
  });
});

describe("topics and Retry-After", () => {
  it("makes an RFC 8030 Topic from an idempotency key, always the same one", () => {
    expect(pushTopic("abc_DEF-123")).toBe("abc_DEF-123");
    expect(pushTopic("0190F3A2-7B1C-7DEF-8123-456789ABCDEF")).toBe("0190f3a27b1c7def8123456789abcdef");
    const long = pushTopic("user-1:message-2:push:with a space");
    expect(long).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(pushTopic("user-1:message-2:push:with a space")).toBe(long);
    expect(pushTopic("user-1:message-3:push:with a space")).not.toBe(long);
  });

  it("reads Retry-After as seconds or a date", () => {
    const now = Date.parse("2026-12-04T03:00:00Z");
    expect(parseRetryAfter("7", now)).toBe(7000);
    expect(parseRetryAfter("Fri, 04 Dec 2026 03:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Fri, 04 Dec 2026 02:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe("sendPush to a push service played by the test", () => {
  let sink: PushSink;
  let vapid: VapidDetails;
  const payload = () => pushPayload(notification(), { publicUrl: PUBLIC_URL, hidePreviews: false });

  beforeAll(async () => {
    sink = await startPushSink();
    vapid = { ...generateVapidKeys(), subject: "mailto:admin@chat.example.com" };
  });
  afterAll(async () => {
    await sink.close();
  });

  it("delivers the payload encrypted: the sink checks the VAPID JWT and decrypts it with the browser's keys", async () => {
    const subscription = sink.subscribe({ vapidPublicKey: vapid.publicKey });
    const before = sink.received.length;
    const outcome = await sendPush(subscription, payload(), vapid, {
      allowedHosts: sink.allowedHosts,
      topic: "0190f3a2-7b1c-7def-8123-456789abcdef",
      ttlSeconds: 3600,
    });
    expect(outcome).toEqual({ kind: "sent", status: 201 });
    const pushes = await sink.waitForReceived(before + 1);
    const push = pushes[before]!;
    expect(push.subscriptionId).toBe(subscription.id);
    expect(push.json).toEqual(payload());
    expect(push.headers["content-encoding"]).toBe("aes128gcm");
    expect(push.body.equals(Buffer.from(push.plaintext))).toBe(false); // it travelled encrypted
    expect(push.ttl).toBe(3600);
    expect(push.urgency).toBe("high"); // a mention
    expect(push.topic).toBe("0190f3a27b1c7def8123456789abcdef");
    expect(push.vapid.publicKey).toBe(vapid.publicKey);
    expect(push.vapid.audience).toBe(sink.origin);
    expect(push.vapid.subject).toBe("mailto:admin@chat.example.com");
    expect(push.vapid.expiresAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 24 * 3600);
  });

  it("sends the same Topic for a repeat of the same notification (the idempotency key)", async () => {
    const subscription = sink.subscribe();
    const before = sink.received.length;
    for (let i = 0; i < 2; i++) {
      expect(await sendPush(subscription, payload(), vapid, { allowedHosts: sink.allowedHosts, topic: "notif_1" })).toMatchObject({ kind: "sent" });
    }
    const pushes = (await sink.waitForReceived(before + 2)).slice(before);
    expect(pushes.map((p) => p.topic)).toEqual(["notif_1", "notif_1"]);
  });

  it("410 -> gone (and 404 for a subscription the push service does not know)", async () => {
    const subscription = sink.subscribe();
    sink.expire(subscription);
    expect(await sendPush(subscription, payload(), vapid, { allowedHosts: sink.allowedHosts })).toMatchObject({ kind: "gone", status: 410 });
    const unknown = { ...sink.subscribe(), endpoint: `${sink.origin}/push/never-made` };
    expect(await sendPush(unknown, payload(), vapid, { allowedHosts: sink.allowedHosts })).toMatchObject({ kind: "gone", status: 404 });
  });

  it("429 with Retry-After -> retry with retryAfterMs; 503 -> retry", async () => {
    const subscription = sink.subscribe();
    sink.reply(subscription, { status: 429, headers: { "retry-after": "7" } }, { status: 503 });
    expect(await sendPush(subscription, payload(), vapid, { allowedHosts: sink.allowedHosts })).toMatchObject({
      kind: "retry",
      status: 429,
      retryAfterMs: 7000,
    });
    const second = await sendPush(subscription, payload(), vapid, { allowedHosts: sink.allowedHosts });
    expect(second).toMatchObject({ kind: "retry", status: 503 });
    expect(second).not.toHaveProperty("retryAfterMs");
    // and then the push service takes it
    expect(await sendPush(subscription, payload(), vapid, { allowedHosts: sink.allowedHosts })).toMatchObject({ kind: "sent" });
  });

  it("a VAPID key other than the subscription's: the sink refuses (403) -> rejected", async () => {
    const subscription = sink.subscribe({ vapidPublicKey: vapid.publicKey });
    const other = { ...generateVapidKeys(), subject: vapid.subject };
    const before = sink.received.length;
    const outcome = await sendPush(subscription, payload(), other, { allowedHosts: sink.allowedHosts });
    expect(outcome).toMatchObject({ kind: "rejected", status: 403 });
    expect(sink.refused.at(-1)).toMatchObject({ subscriptionId: subscription.id, status: 403 });
    expect(sink.received.length).toBe(before);
  });

  it("a JWT not signed by k (a forged Authorization) is refused by the sink: 401 -> rejected", async () => {
    const subscription = sink.subscribe();
    // The private key of one pair with the public key of another: the signature does not verify.
    const forged = { publicKey: generateVapidKeys().publicKey, privateKey: vapid.privateKey, subject: vapid.subject };
    expect(await sendPush(subscription, payload(), forged, { allowedHosts: sink.allowedHosts })).toMatchObject({ kind: "rejected", status: 401 });
    expect(sink.refused.at(-1)?.reason).toMatch(/^vapid: /);
  });

  it("keys the browser did not make cannot be read by it: undecryptable -> 400 -> rejected", async () => {
    const subscription = sink.subscribe();
    const stranger = sink.subscribe();
    const mixed = { endpoint: subscription.endpoint, p256dh: stranger.p256dh, auth: stranger.auth };
    expect(await sendPush(mixed, payload(), vapid, { allowedHosts: sink.allowedHosts })).toMatchObject({ kind: "rejected", status: 400 });
    expect(sink.refused.at(-1)?.reason).toMatch(/cannot decrypt/);
  });

  it("refuses before sending: an endpoint outside the SSRF rules, bad subscription keys", async () => {
    const subscription = sink.subscribe();
    const requests = sink.requests;
    expect(await sendPush(subscription, payload(), vapid, { allowedHosts: [] })).toMatchObject({ kind: "rejected", detail: expect.stringMatching(/https/) });
    expect(await sendPush({ ...subscription, p256dh: "AAAA" }, payload(), vapid, { allowedHosts: sink.allowedHosts })).toMatchObject({
      kind: "rejected",
      detail: expect.stringMatching(/p256dh/),
    });
    expect(sink.requests).toBe(requests);
  });

  it("a connection refused -> retry", async () => {
    const closed = await startPushSink();
    const subscription = closed.subscribe();
    const hosts = closed.allowedHosts;
    await closed.close();
    expect(await sendPush(subscription, payload(), vapid, { allowedHosts: hosts })).toMatchObject({ kind: "retry", detail: expect.stringMatching(/ECONNREFUSED/) });
  });

  it("uses the agents it is given (their SSRF guard on the connection)", async () => {
    const subscription = sink.subscribe();
    const refusing = createPushAgents([]); // allow-lists nothing: 127.0.0.1 refused on the socket
    expect(await sendPush(subscription, payload(), vapid, { allowedHosts: sink.allowedHosts, agent: refusing })).toMatchObject({
      kind: "rejected",
      detail: expect.stringMatching(/loopback/),
    });
    refusing.destroy();
    const allowing = createPushAgents(sink.allowedHosts);
    expect(await sendPush(subscription, payload(), vapid, { allowedHosts: sink.allowedHosts, agent: allowing })).toMatchObject({ kind: "sent" });
    allowing.destroy();
  });

  it("a held answer: a timeout -> retry, and the sink does not count what it answered to nobody", async () => {
    const subscription = sink.subscribe();
    const hold = sink.hold();
    const before = sink.received.length;
    const sending = sendPush(subscription, payload(), vapid, { allowedHosts: sink.allowedHosts, timeoutMs: 300 });
    const { push } = await hold.arrived;
    expect(push?.subscriptionId).toBe(subscription.id);
    expect(await sending).toMatchObject({ kind: "retry", detail: expect.stringMatching(/ETIMEDOUT|no answer/) });
    expect(await hold.release()).toBe(false);
    expect(sink.received.length).toBe(before);
    // the retry with the same topic is then accepted once
    const again = sink.hold();
    const retried = sendPush(subscription, payload(), vapid, { allowedHosts: sink.allowedHosts, topic: "n1" });
    await again.arrived;
    expect(await again.release()).toBe(true);
    expect(await retried).toMatchObject({ kind: "sent" });
    expect(sink.received.length).toBe(before + 1);
  });
});
