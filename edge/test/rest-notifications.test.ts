// Notification settings over REST and tRPC (issue 18): preferences (defaults, partial changes,
// validation naming the field), room levels and mutes (a room you are not in is 404 like a missing
// one), thread mutes, Web Push subscriptions (add, list, remove; https endpoints only; the endpoint
// never comes back), and the email unsubscribe link: a page on GET that changes nothing, RFC 8058
// one-click on POST without sign-in.
import { createECDH, randomBytes } from "node:crypto";
import { EventEmitter, once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRPCClientError } from "@trpc/client";
import { Validator } from "@seriousme/openapi-schema-validator";
import { SMTPServer } from "smtp-server";
import { ok, roomWithMembers, startTestEdge, type Account, type TestEdge } from "./harness.js";

type SunkMail = { to: string[]; raw: string };

/**
 * An SMTP server of the test's (smtp-server) that keeps every mail it accepted, with its envelope;
 * `mailTo` resolves when a mail to that address has come (the marker to wait on).
 */
async function startSmtpSink() {
  const mails: SunkMail[] = [];
  const accepted = new EventEmitter<{ mail: [SunkMail] }>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const mail = { to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString("utf8") };
        mails.push(mail);
        callback();
        accepted.emit("mail", mail);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.server.address() as AddressInfo;
  const mailTo = async (address: string, signal: AbortSignal): Promise<SunkMail> => {
    const arrived = mails.find((m) => m.to.includes(address));
    if (arrived) return arrived;
    for (;;) {
      const [mail] = await once(accepted, "mail", { signal });
      if (mail.to.includes(address)) return mail;
    }
  };
  return { url: `smtp://127.0.0.1:${port}`, mails, mailTo, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A header of a raw mail, unfolded. */
function header(raw: string, name: string): string | undefined {
  const head = raw.slice(0, raw.indexOf("\r\n\r\n")).replace(/\r\n[ \t]+/g, " ");
  return head.split("\r\n").find((line) => line.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.slice(name.length + 1).trim();
}

let edge: TestEdge;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
beforeAll(async () => {
  smtp = await startSmtpSink();
  edge = await startTestEdge({ RATE_UNSUBSCRIBE_PER_MINUTE: "1000", SMTP_URL: smtp.url, PUBLIC_URL: "https://chat.example.com" });
}, 120_000);
afterAll(async () => {
  await edge?.stop();
  await smtp?.stop();
});

const RANDOM_ID = "01900000-0000-7000-8000-000000000000";
const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");
/** A browser's PushSubscription.toJSON(): a real P-256 key and auth secret. */
function browserSubscription(endpoint: string) {
  const ecdh = createECDH("prime256v1");
  return { endpoint, expirationTime: null, keys: { p256dh: b64url(ecdh.generateKeys()), auth: b64url(randomBytes(16)) } };
}

/** A 400 naming `field`. */
async function refused(res: Promise<{ status: number; json: any }>, field: string) {
  const { status, json } = await res;
  expect(status, JSON.stringify(json)).toBe(400);
  expect(json.error).toMatchObject({ code: "BAD_REQUEST", field });
  expect(json.error.message.startsWith(`${field}: `), json.error.message).toBe(true);
}

const prefs = (who: Account) => ok(edge.api("GET", "/api/v1/notifications/preferences", { token: who.accessToken }));
const patch = (who: Account, body: unknown) => edge.api("PATCH", "/api/v1/notifications/preferences", { token: who.accessToken, body });

describe("preferences", () => {
  it("starts on the defaults and changes only the fields given (in dnd too)", async () => {
    const ada = await edge.signUp("pa");
    const initial = await prefs(ada);
    expect(initial).toMatchObject({
      preferences: { defaultLevel: "mentions", desktop: true, push: true, email: true, emailDelaySeconds: 900, hidePreviews: false, pausedUntil: null },
      rooms: [],
      threads: [],
    });
    expect(initial.preferences.dnd).toMatchObject({ enabled: false, timeZone: "UTC" });

    const changed = await ok(
      patch(ada, { defaultLevel: "all", emailDelaySeconds: 120, push: false, dnd: { enabled: true, startMinute: 22 * 60, endMinute: 7 * 60, timeZone: "Europe/Berlin" } }),
    );
    expect(changed).toMatchObject({
      defaultLevel: "all",
      emailDelaySeconds: 120,
      push: false,
      desktop: true,
      email: true,
      dnd: { enabled: true, startMinute: 1320, endMinute: 420, timeZone: "Europe/Berlin" },
    });
    // dnd.enabled alone keeps the hours and the zone.
    const off = await ok(patch(ada, { dnd: { enabled: false } }));
    expect(off.dnd).toEqual({ enabled: false, startMinute: 1320, endMinute: 420, timeZone: "Europe/Berlin" });
    expect(off.defaultLevel).toBe("all");

    const until = "2030-01-02T03:04:05.000Z";
    expect((await ok(patch(ada, { pausedUntil: until }))).pausedUntil).toBe(until);
    expect((await prefs(ada)).preferences.pausedUntil).toBe(until);
    expect((await ok(patch(ada, { pausedUntil: null }))).pausedUntil).toBeNull();
    // Someone else's preferences are untouched.
    const bob = await edge.signUp("pb");
    expect((await prefs(bob)).preferences).toMatchObject({ defaultLevel: "mentions", push: true, emailDelaySeconds: 900 });
  });

  it("answers 400 naming the field for bad values, unknown fields and an empty change", async () => {
    const ada = await edge.signUp("pv");
    await refused(patch(ada, { emailDelaySeconds: 10 }), "emailDelaySeconds");
    await refused(patch(ada, { emailDelaySeconds: 86_401 }), "emailDelaySeconds");
    await refused(patch(ada, { emailDelaySeconds: 90.5 }), "emailDelaySeconds");
    await refused(patch(ada, { defaultLevel: "loud" }), "defaultLevel");
    await refused(patch(ada, { desktop: "yes" }), "desktop");
    await refused(patch(ada, { dnd: { startMinute: 1440 } }), "dnd.startMinute");
    await refused(patch(ada, { dnd: { endMinute: -1 } }), "dnd.endMinute");
    await refused(patch(ada, { dnd: { timeZone: "Mars/Olympus_Mons" } }), "dnd.timeZone");
    await refused(patch(ada, { dnd: { quiet: true } }), "dnd");
    await refused(patch(ada, { pausedUntil: "tomorrow" }), "pausedUntil");
    const unknown = await patch(ada, { volume: 11 });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toMatch(/unknown field\(s\): volume/);
    const empty = await patch(ada, {});
    expect(empty.status).toBe(400);
    expect(empty.json.error.message).toMatch(/name at least one of/);
    // Nothing changed.
    expect((await prefs(ada)).preferences).toMatchObject({ emailDelaySeconds: 900, defaultLevel: "mentions" });
  });
});

describe("rooms and threads", () => {
  it("sets a room's level and mute, lists it, puts it back on the defaults; a room you are not in is 404 like a missing one", async () => {
    const ada = await edge.signUp("ra");
    const bob = await edge.signUp("rb");
    const roomId = await roomWithMembers(edge, ada, []);
    const put = (who: Account, id: string, body: unknown) => edge.api("PUT", `/api/v1/rooms/${id}/notifications`, { token: who.accessToken, body });

    const mutedUntil = "9999-12-31T00:00:00.000Z";
    expect(await ok(put(ada, roomId, { level: "nothing", mutedUntil }))).toEqual({ roomId, level: "nothing", mutedUntil });
    expect((await prefs(ada)).rooms).toEqual([{ roomId, level: "nothing", mutedUntil }]);
    expect(await ok(put(ada, roomId, { level: "all" }))).toEqual({ roomId, level: "all", mutedUntil: null });
    expect(await ok(put(ada, roomId, {}))).toEqual({ roomId, level: "default", mutedUntil: null });
    expect((await prefs(ada)).rooms).toEqual([]);

    await refused(put(ada, roomId, { level: "loud" }), "level");
    await refused(put(ada, roomId, { mutedUntil: "soon" }), "mutedUntil");
    await refused(put(ada, "not-an-id", {}), "roomId");

    const notMember = await put(bob, roomId, { level: "all" });
    const missing = await put(bob, RANDOM_ID, { level: "all" });
    expect(notMember.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(notMember.json).toEqual(missing.json);
    expect((await prefs(bob)).rooms).toEqual([]);
  });

  it("mutes and unmutes a thread by its root (a reply is not one); a thread of a room you are not in is 404 like a missing one", async () => {
    const ada = await edge.signUp("ta");
    const bob = await edge.signUp("tb");
    const roomId = await roomWithMembers(edge, ada, []);
    const root = await ok(edge.api("POST", "/api/v1/messages", { token: ada.accessToken, body: { roomId, body: "root" } }), 201);
    const reply = await ok(edge.api("POST", "/api/v1/messages", { token: ada.accessToken, body: { roomId, body: "reply", threadRootId: root.id } }), 201);
    const put = (who: Account, id: string, body: unknown) => edge.api("PUT", `/api/v1/threads/${id}/notifications`, { token: who.accessToken, body });

    const mutedUntil = "2031-05-06T07:08:09.000Z";
    expect(await ok(put(ada, root.id, { mutedUntil }))).toEqual({ roomId, threadRootId: root.id, mutedUntil });
    expect((await prefs(ada)).threads).toEqual([{ roomId, threadRootId: root.id, mutedUntil }]);
    expect(await ok(put(ada, root.id, { mutedUntil: null }))).toEqual({ roomId, threadRootId: root.id, mutedUntil: null });
    expect((await prefs(ada)).threads).toEqual([]);

    const notMember = await put(bob, root.id, { mutedUntil });
    const missing = await put(bob, RANDOM_ID, { mutedUntil });
    expect(notMember.status).toBe(404);
    expect(notMember.json).toEqual(missing.json);
    // A reply is not a thread's root: 404 as for a random id (the message service's rule for threads).
    expect((await put(ada, reply.id, { mutedUntil })).json).toEqual((await put(ada, RANDOM_ID, { mutedUntil })).json);
    await refused(put(ada, root.id, { mutedUntil: "1969-12-31T23:59:59Z" }), "mutedUntil");
  });
});

describe("Web Push subscriptions", () => {
  it("gives the VAPID key, adds, lists and removes a device's subscription without ever returning its endpoint", async () => {
    const ada = await edge.signUp("wa");
    const bob = await edge.signUp("wb");
    const config = await ok(edge.api("GET", "/api/v1/notifications/push", { token: ada.accessToken }));
    expect(Buffer.from(config.vapidPublicKey, "base64url")).toHaveLength(65);
    expect(config.vapidPublicKey).toMatch(/^[A-Za-z0-9_-]+$/);

    const endpoint = `https://push.example.com/send/${b64url(randomBytes(12))}`;
    const added = await ok(
      edge.api("POST", "/api/v1/notifications/push/subscriptions", {
        token: ada.accessToken,
        body: { ...browserSubscription(endpoint), vapidPublicKey: config.vapidPublicKey, deviceLabel: "  Firefox on Linux  " },
      }),
      201,
    );
    expect(added).toMatchObject({ endpointOrigin: "https://push.example.com", deviceLabel: "Firefox on Linux", lastSuccessAt: null });
    expect(Object.keys(added).sort()).toEqual(["createdAt", "deviceLabel", "endpointOrigin", "id", "lastSuccessAt"]);
    expect(JSON.stringify(added)).not.toContain("/send/");

    const list = await ok(edge.api("GET", "/api/v1/notifications/push/subscriptions", { token: ada.accessToken }));
    expect(list.subscriptions).toEqual([added]);
    expect((await ok(edge.api("GET", "/api/v1/notifications/push/subscriptions", { token: bob.accessToken }))).subscriptions).toEqual([]);

    // Another person's device is 404, as a random id.
    const theirs = await edge.api("DELETE", `/api/v1/notifications/push/subscriptions/${added.id}`, { token: bob.accessToken });
    const random = await edge.api("DELETE", `/api/v1/notifications/push/subscriptions/${RANDOM_ID}`, { token: bob.accessToken });
    expect(theirs.status).toBe(404);
    expect(theirs.json).toEqual(random.json);
    expect((await edge.api("DELETE", `/api/v1/notifications/push/subscriptions/${added.id}`, { token: ada.accessToken })).status).toBe(204);
    expect((await ok(edge.api("GET", "/api/v1/notifications/push/subscriptions", { token: ada.accessToken }))).subscriptions).toEqual([]);
  });

  it("answers 400 naming the field for an endpoint that is not https and for bad keys", async () => {
    const ada = await edge.signUp("wv");
    const add = (body: unknown) => edge.api("POST", "/api/v1/notifications/push/subscriptions", { token: ada.accessToken, body });
    const good = browserSubscription("https://push.example.com/send/abc");
    await refused(add({ ...good, endpoint: "http://push.example.com/send/abc" }), "endpoint");
    await refused(add({ ...good, endpoint: "not a url" }), "endpoint");
    await refused(add({ ...good, endpoint: `https://push.example.com/${"a".repeat(2048)}` }), "endpoint");
    await refused(add({ ...good, keys: { ...good.keys, p256dh: b64url(randomBytes(33)) } }), "keys.p256dh");
    await refused(add({ ...good, keys: { ...good.keys, p256dh: b64url(Buffer.alloc(65, 2)) } }), "keys.p256dh");
    // 65 bytes starting 0x04 but not a point on P-256: the service's check, named as here.
    await refused(add({ ...good, keys: { ...good.keys, p256dh: b64url(Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)])) } }), "keys.p256dh");
    await refused(add({ ...good, keys: { ...good.keys, auth: "not base64url!" } }), "keys.auth");
    // A VAPID key the server does not hold (made with another server's, or retired): 412, subscribe again.
    const foreign = await add({ ...good, vapidPublicKey: b64url(createECDH("prime256v1").generateKeys()) });
    expect(foreign.status).toBe(412);
    expect(foreign.json.error).toMatchObject({ code: "PRECONDITION_FAILED", field: "vapidPublicKey" });
    await refused(add({ ...good, deviceLabel: "x".repeat(101) }), "deviceLabel");
    await refused(add({ endpoint: good.endpoint }), "keys");
    await refused(edge.api("DELETE", "/api/v1/notifications/push/subscriptions/nope", { token: ada.accessToken }), "id");
    expect((await ok(edge.api("GET", "/api/v1/notifications/push/subscriptions", { token: ada.accessToken }))).subscriptions).toEqual([]);
  });
});

describe("sign-in", () => {
  it("answers 401 without a token or with a bad one, on every notification endpoint", async () => {
    const calls: [string, string, unknown?][] = [
      ["GET", "/api/v1/notifications/preferences"],
      ["PATCH", "/api/v1/notifications/preferences", { push: false }],
      ["PUT", `/api/v1/rooms/${RANDOM_ID}/notifications`, { level: "all" }],
      ["PUT", `/api/v1/threads/${RANDOM_ID}/notifications`, {}],
      ["GET", "/api/v1/notifications/push"],
      ["GET", "/api/v1/notifications/push/subscriptions"],
      ["POST", "/api/v1/notifications/push/subscriptions", browserSubscription("https://push.example.com/x")],
      ["DELETE", `/api/v1/notifications/push/subscriptions/${RANDOM_ID}`],
    ];
    for (const [method, path, body] of calls) {
      for (const token of [undefined, "not.a.token"]) {
        const res = await edge.api(method, path, { token, body });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.json.error.code).toBe("UNAUTHORIZED");
        expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
      }
    }
  });
});

describe("tRPC", () => {
  it("offers the same procedures with the same shapes and errors", async () => {
    const ada = await edge.signUp("ca");
    const api = edge.trpc(ada.accessToken);
    expect((await api.notifications.preferences.query()).preferences.defaultLevel).toBe("mentions");
    const changed = await api.notifications.updatePreferences.mutate({ sound: false, hidePreviews: true });
    expect(changed).toMatchObject({ sound: false, hidePreviews: true });
    const roomId = await roomWithMembers(edge, ada, []);
    expect(await api.notifications.setRoom.mutate({ roomId, level: "mentions" })).toEqual({ roomId, level: "mentions", mutedUntil: null });
    const { vapidPublicKey } = await api.notifications.pushConfig.query();
    const sub = await api.notifications.addPushSubscription.mutate({ ...browserSubscription("https://push.example.com/trpc/1"), vapidPublicKey });
    expect((await api.notifications.listPushSubscriptions.query()).subscriptions.map((s) => s.id)).toEqual([sub.id]);
    // By endpoint, as the web app does once the browser unsubscribed.
    await api.notifications.removePushSubscription.mutate({ endpoint: "https://push.example.com/trpc/1" });
    expect((await api.notifications.listPushSubscriptions.query()).subscriptions).toEqual([]);

    const error = await api.notifications.updatePreferences.mutate({ emailDelaySeconds: 5 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    expect((error as TRPCClientError<never>).data).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400, field: "emailDelaySeconds" });
    const both = await api.notifications.removePushSubscription.mutate({ id: RANDOM_ID, endpoint: "https://push.example.com/x" }).catch((e: unknown) => e);
    expect((both as TRPCClientError<never>).data).toMatchObject({ code: "BAD_REQUEST", field: "id" });
    const anonymous = await edge.trpc().notifications.preferences.query().catch((e: unknown) => e);
    expect((anonymous as TRPCClientError<never>).data).toMatchObject({ code: "UNAUTHORIZED", httpStatus: 401 });
  });
});

describe("the email unsubscribe link", () => {
  const url = (token: string) => `${edge.base}/api/v1/notifications/unsubscribe?token=${encodeURIComponent(token)}`;

  it("shows a confirm page on GET, escaped, under the app's CSP, with a POST form and no script", async () => {
    const token = `abc"><script>alert(1)</script>`;
    const res = await fetch(url(token));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toMatch(/default-src 'self'.*script-src 'self'.*form-action 'self'/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    const html = await res.text();
    expect(html).not.toContain("<script");
    expect(html).toMatch(/<form method="post" action="\/api\/v1\/notifications\/unsubscribe\?token=[^"]*">/);
    const action = /action="([^"]*)"/.exec(html)![1]!.replace(/&amp;/g, "&");
    expect(new URL(action, edge.base).searchParams.get("token")).toBe(token);
    expect(html).toContain('<input type="hidden" name="List-Unsubscribe" value="One-Click">');
    expect((await fetch(`${edge.base}/api/v1/notifications/unsubscribe`)).status).toBe(400);
    expect((await fetch(url("a"), { method: "PUT" })).status).toBe(405);
  });

  it("answers 400 for a bad token on POST (page or JSON), and 415 for a body that is not a form", async () => {
    const oneClick = (token: string, headers: Record<string, string> = {}) =>
      fetch(url(token), { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: "List-Unsubscribe=One-Click" });
    const page = await oneClick("forged.token");
    expect(page.status).toBe(400);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const json = await oneClick("forged.token", { accept: "application/json" });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: unknown }).error).toMatchObject({ code: "BAD_REQUEST" });
    const notForm = await fetch(url("forged.token"), { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(notForm.status).toBe(415);
    const wrongKey = await fetch(url("forged.token"), { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "List-Unsubscribe=Two-Clicks" });
    expect(wrongKey.status).toBe(400);
    // multipart/form-data, as RFC 8058 prefers: read, and the token is what is refused.
    const multipart = new FormData();
    multipart.set("List-Unsubscribe", "One-Click");
    const asMultipart = await fetch(url("forged.token"), { method: "POST", headers: { accept: "application/json" }, body: multipart });
    expect(asMultipart.status).toBe(400);
    expect(((await asMultipart.json()) as { error: unknown }).error).toMatchObject({ field: "token", message: expect.stringMatching(/^token: /) });
    const broken = await fetch(url("forged.token"), { method: "POST", headers: { "content-type": "multipart/form-data; boundary=x", accept: "application/json" }, body: "garbage" });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { message: string } }).error.message).toMatch(/not a valid form/);
    // The token may come as a form field when the URL has none (a form of its own).
    const inBody = await fetch(`${edge.base}/api/v1/notifications/unsubscribe`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: "List-Unsubscribe=One-Click&token=forged.token",
    });
    expect(((await inBody.json()) as { error: unknown }).error).toMatchObject({ field: "token", message: expect.stringMatching(/valid/) });
  });

  it("unsubscribes with the link of a real notification email: GET changes nothing, one-click POST turns emails off, again is 200", async () => {
    const ada = await edge.signUp("ea");
    const bob = await edge.signUp("eb");
    // The shortest email delay: the worker emails an unread direct message after a minute.
    await ok(patch(bob, { emailDelaySeconds: 60 }));
    const dm = await ok(edge.api("POST", "/api/v1/rooms/direct", { token: ada.accessToken, body: { userId: bob.user.id } }));
    await ok(edge.api("POST", "/api/v1/messages", { token: ada.accessToken, body: { roomId: dm.id, body: "are you there?" } }), 201);
    const bobEmail = `${bob.username}@example.com`;
    const mail = await smtp.mailTo(bobEmail, AbortSignal.timeout(150_000));
    expect(header(mail.raw, "List-Unsubscribe-Post")).toBe("List-Unsubscribe=One-Click");
    const link = /^<([^>]+)>$/.exec(header(mail.raw, "List-Unsubscribe") ?? "")?.[1];
    expect(link).toMatch(/^https:\/\/chat\.example\.com\/api\/v1\/notifications\/unsubscribe\?token=/);
    const { pathname, search } = new URL(link!);
    const here = `${edge.base}${pathname}${search}`;

    // A scanner following the link unsubscribes nobody.
    const page = await fetch(here);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Unsubscribe</button>");
    expect((await prefs(bob)).preferences.email).toBe(true);

    // The mail provider's one-click POST (RFC 8058): no sign-in, multipart/form-data.
    const body = new FormData();
    body.set("List-Unsubscribe", "One-Click");
    const done = await fetch(here, { method: "POST", body });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("You are unsubscribed");
    expect((await prefs(bob)).preferences.email).toBe(false);
    // Again (the person presses the page's button too): still 200.
    const again = await fetch(here, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" }, body: "List-Unsubscribe=One-Click" });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ unsubscribed: true });
    // Bob's token is his alone.
    expect((await prefs(ada)).preferences.email).toBe(true);
    expect(smtp.mails.filter((m) => m.to.includes(`${ada.username}@example.com`))).toEqual([]);
  }, 200_000);

  it("is rate-limited per address", async () => {
    // Behind a proxy of ours, from an address of its own: the limiter is shared with the other edge.
    const limited = await startTestEdge({ RATE_UNSUBSCRIBE_PER_MINUTE: "2", TRUST_PROXY: "1" }, { parley: edge.parley });
    const address = `203.0.113.${process.pid % 250}`;
    try {
      const post = () =>
        fetch(`${limited.base}/api/v1/notifications/unsubscribe?token=x`, { method: "POST", headers: { accept: "application/json", "x-forwarded-for": address } });
      expect((await post()).status).toBe(400);
      expect((await post()).status).toBe(400);
      const third = await post();
      expect(third.status).toBe(429);
      expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      await limited.stop();
    }
  });
});

describe("the OpenAPI document", () => {
  it("documents the notification endpoints and stays valid", async () => {
    const doc = await ok(edge.api("GET", "/api/v1/openapi.json"));
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    const paths = doc.paths;
    expect(Object.keys(paths["/api/v1/notifications/preferences"]).sort()).toEqual(["get", "patch"]);
    expect(paths["/api/v1/notifications/preferences"].patch.requestBody.content["application/json"].schema.properties.emailDelaySeconds).toMatchObject({ minimum: 60, maximum: 86400 });
    expect(paths["/api/v1/rooms/{roomId}/notifications"].put).toBeDefined();
    expect(paths["/api/v1/threads/{rootId}/notifications"].put).toBeDefined();
    expect(paths["/api/v1/notifications/push"].get).toBeDefined();
    expect(Object.keys(paths["/api/v1/notifications/push/subscriptions"]).sort()).toEqual(["get", "post"]);
    expect(paths["/api/v1/notifications/push/subscriptions/{id}"].delete.responses["204"]).toBeDefined();
    const unsubscribe = paths["/api/v1/notifications/unsubscribe"];
    expect(unsubscribe.get.responses["200"].content["text/html"]).toBeDefined();
    expect(unsubscribe.post.security).toBeUndefined();
    expect(Object.keys(unsubscribe.post.requestBody.content).sort()).toEqual(["application/x-www-form-urlencoded", "multipart/form-data"]);
    // The subscription shape never has the endpoint.
    const out = paths["/api/v1/notifications/push/subscriptions"].post.responses["201"].content["application/json"].schema;
    expect(Object.keys(out.properties)).not.toContain("endpoint");
  });
});
