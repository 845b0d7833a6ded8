/* Parley's service worker (issue 18), scope "/": shows Web Push notifications while the app is
   closed or in the background, and opens the message when one is clicked.

   - push: the payload is a parley.notify.v1.Notification as JSON (camelCase or snake_case fields;
     reasons as "mention" or "REASON_MENTION"). Title: the room's name, or the sender for a direct
     conversation; body: "sender: preview", or a line saying what happened when the person hides
     previews. Its tag is the notification id, so a push and the open app's desktop notification of
     the same message show once.
   - notificationclick: focuses an open window of the app and tells it (postMessage
     {type: "parley:open", url}) to open /rooms/<roomId>?reply=<seq>[&thread=<rootId>], or opens a
     new window there.
   - pushsubscriptionchange: subscribes again with the same VAPID key and hands the new
     subscription to the app (postMessage, and kept in Cache Storage for its next load): only the
     app holds the person's credentials, and it tells the server (addPushSubscription, then
     removePushSubscription of the old endpoint).

   Plain JavaScript (no build step): the file is served as is from /sw.js. The same presentation
   rules are in web/src/lib/notification-view.ts (test/sw.test.ts checks both agree). */

const ICON = "/favicon.svg";
const PENDING_CACHE = "parley-sw";
const PENDING_KEY = "/__parley/pending-push-subscription";

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

/** A field of the payload under its camelCase or snake_case name. */
function pick(payload, camel, snake) {
  if (!payload || typeof payload !== "object") return undefined;
  return payload[camel] !== undefined ? payload[camel] : payload[snake];
}

function text(value) {
  return typeof value === "string" ? value : value === undefined || value === null ? "" : String(value);
}

/** "mention" from "mention", "REASON_MENTION", or the enum's number. */
function reasonOf(value) {
  const names = ["", "direct", "mention", "room_mention", "thread_reply", "room_message"];
  if (typeof value === "number") return names[value] || "";
  return text(value).toLowerCase().replace(/^reason_/, "");
}

/** The payload as the fields the notification shows. */
function normalize(payload) {
  const seq = Number(text(pick(payload, "seq", "seq")) || 0);
  return {
    id: text(pick(payload, "id", "id")),
    roomId: text(pick(payload, "roomId", "room_id")),
    seq: Number.isSafeInteger(seq) && seq > 0 ? seq : 0,
    threadRootId: text(pick(payload, "threadRootId", "thread_root_id")),
    reason: reasonOf(pick(payload, "reason", "reason")),
    senderName: text(pick(payload, "senderName", "sender_name")),
    roomName: text(pick(payload, "roomName", "room_name")),
    preview: text(pick(payload, "preview", "preview")),
  };
}

/** Where a click opens: the room at the message, or its thread at the reply. */
function urlOf(n) {
  if (!n.roomId) return "/";
  const params = new URLSearchParams();
  if (n.seq > 0) params.set("reply", String(n.seq));
  if (n.threadRootId) params.set("thread", n.threadRootId);
  const query = params.toString();
  return `/rooms/${encodeURIComponent(n.roomId)}${query ? `?${query}` : ""}`;
}

/** What happened, for a notification without the message's text. */
function withoutPreview(n) {
  const who = n.senderName || "Someone";
  switch (n.reason) {
    case "direct":
      return `${who} sent you a message`;
    case "mention":
      return `${who} mentioned you`;
    case "room_mention":
      return `${who} mentioned everyone`;
    case "thread_reply":
      return `${who} replied in a thread`;
    default:
      return `${who} wrote a message`;
  }
}

/** Title, body, tag and click target of a notification. */
function present(n) {
  const sender = n.senderName || "Someone";
  const direct = !n.roomName;
  const title = direct ? sender : n.roomName;
  const preview = n.preview.trim();
  const body = preview ? (direct ? preview : `${sender}: ${preview}`) : withoutPreview(n);
  return { title, body, tag: n.id || `parley-${n.roomId}-${n.seq}`, url: urlOf(n) };
}

function parse(event) {
  if (!event.data) return null;
  try {
    return event.data.json();
  } catch {
    return null;
  }
}

self.addEventListener("push", (event) => {
  const payload = parse(event);
  // A push must show something (userVisibleOnly): an unreadable one says only that there is news.
  const shown = payload
    ? present(normalize(payload))
    : { title: "Parley", body: "You have new messages", tag: "parley-new", url: "/" };
  event.waitUntil(
    self.registration.showNotification(shown.title, {
      body: shown.body,
      tag: shown.tag,
      icon: ICON,
      badge: ICON,
      data: { url: shown.url, id: shown.tag },
    }),
  );
});

/** Focuses a window of the app and has it open `url` in place, or opens one there. */
async function openApp(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const mine = windows.filter((client) => new URL(client.url).origin === self.location.origin);
  const target = mine.find((client) => client.focused) || mine.find((client) => client.visibilityState === "visible") || mine[0];
  if (target) {
    const focused = await target.focus().catch(() => target);
    (focused || target).postMessage({ type: "parley:open", url });
    return;
  }
  await self.clients.openWindow(url);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  const url = new URL(typeof data.url === "string" ? data.url : "/", self.location.origin);
  // Only the app's own pages.
  const path = url.origin === self.location.origin ? `${url.pathname}${url.search}${url.hash}` : "/";
  event.waitUntil(openApp(path));
});

function base64url(buffer) {
  if (!buffer) return "";
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function resubscribe(event) {
  const old = event.oldSubscription || null;
  let next = event.newSubscription || null;
  const key = (next && next.options && next.options.applicationServerKey) || (old && old.options && old.options.applicationServerKey) || null;
  if (!next) {
    if (!key) return;
    next = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }
  const change = {
    type: "parley:pushsubscriptionchange",
    subscription: next.toJSON(),
    vapidPublicKey: base64url(key),
    oldEndpoint: old ? old.endpoint : null,
  };
  // For the app's next load, in case no window is open now.
  const cache = await caches.open(PENDING_CACHE);
  await cache.put(PENDING_KEY, new Response(JSON.stringify(change), { headers: { "content-type": "application/json" } }));
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) client.postMessage(change);
}

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(resubscribe(event));
});

// For the unit test, which runs this file in a sandbox and reads what it defines.
if (typeof self.__parleyTestHooks === "object" && self.__parleyTestHooks) {
  Object.assign(self.__parleyTestHooks, { normalize, present, urlOf });
}
