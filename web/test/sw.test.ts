// The service worker (web/public/sw.js) run in a sandbox with a fake worker global: what a push
// shows (title, body, tag, icon, the URL a click opens), what a click does (focuses an open window
// of the app and has it open the message, or opens one), and a renewed subscription handed to the
// app. Its presentation agrees with the app's own (lib/notification-view.ts).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { fromJson, fromProto, notificationUrl, presentNotification, shouldShowDesktop, appPath } from "../src/lib/notification-view";

const SOURCE = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../public/sw.js"), "utf8");
const ORIGIN = "https://chat.example";

interface FakeClient {
  url: string;
  focused: boolean;
  visibilityState: string;
  messages: unknown[];
  focus(): Promise<FakeClient>;
  postMessage(message: unknown): void;
}

function client(url: string, focused = false): FakeClient {
  const c: FakeClient = {
    url,
    focused,
    visibilityState: focused ? "visible" : "hidden",
    messages: [],
    focus: async () => {
      c.focused = true;
      return c;
    },
    postMessage: (message) => c.messages.push(message),
  };
  return c;
}

function loadWorker(windows: FakeClient[] = []) {
  const listeners = new Map<string, (event: any) => void>();
  const shown: { title: string; options: any }[] = [];
  const opened: string[] = [];
  const cached = new Map<string, string>();
  const hooks: Record<string, any> = {};
  const subscribed: any[] = [];
  const self = {
    __parleyTestHooks: hooks,
    location: new URL(`${ORIGIN}/sw.js`),
    addEventListener: (type: string, listener: (event: any) => void) => listeners.set(type, listener),
    skipWaiting: () => Promise.resolve(),
    clients: {
      claim: () => Promise.resolve(),
      matchAll: async () => windows,
      openWindow: async (url: string) => {
        opened.push(url);
        return null;
      },
    },
    registration: {
      showNotification: async (title: string, options: any) => void shown.push({ title, options }),
      pushManager: {
        subscribe: async (options: any) => {
          subscribed.push(options);
          return { endpoint: "https://push.example/new", toJSON: () => ({ endpoint: "https://push.example/new", keys: { p256dh: "P", auth: "A" } }) };
        },
      },
    },
  };
  const caches = {
    open: async () => ({ put: async (key: string, response: Response) => void cached.set(key, await response.text()) }),
  };
  runInNewContext(SOURCE, { self, caches, URL, URLSearchParams, Response, btoa, Uint8Array, String, JSON, Number, Promise, console });
  /** Dispatches an event like the browser does, and waits for what it handed to waitUntil. */
  const dispatch = async (type: string, event: Record<string, unknown>) => {
    let pending: Promise<unknown> = Promise.resolve();
    listeners.get(type)!({ ...event, waitUntil: (p: Promise<unknown>) => (pending = p) });
    await pending;
  };
  return { dispatch, shown, opened, cached, hooks, subscribed, listeners };
}

const pushEvent = (payload: unknown) => ({ data: { json: () => (typeof payload === "string" ? JSON.parse(payload) : payload) } });

const PAYLOADS: Record<string, unknown>[] = [
  { id: "n1", roomId: "r1", seq: "12", reason: "REASON_MENTION", senderName: "Ada", roomName: "launch", preview: "can you check @bob?" },
  { id: "n2", room_id: "r2", seq: 3, reason: "direct", sender_name: "Bob", room_name: "", preview: "lunch?" },
  { id: "n3", roomId: "r3", seq: "40", threadRootId: "root-1", reason: "thread_reply", senderName: "Cid", roomName: "dev", preview: "" },
  { id: "n4", roomId: "r4", seq: "7", reason: 3, senderName: "", roomName: "all-hands", preview: "" },
  { id: "n5", roomId: "r5", seq: "1", reason: "REASON_DIRECT", senderName: "Dee", roomName: "", preview: "" },
];

describe("the service worker", () => {
  it("registers push, notificationclick and pushsubscriptionchange handlers", () => {
    const worker = loadWorker();
    expect([...worker.listeners.keys()]).toEqual(expect.arrayContaining(["push", "notificationclick", "pushsubscriptionchange", "install", "activate"]));
  });

  it("shows a push: the room as title, 'sender: preview', the id as tag, the room's URL in data", async () => {
    const worker = loadWorker();
    await worker.dispatch("push", pushEvent(PAYLOADS[0]));
    expect(worker.shown).toEqual([
      { title: "launch", options: { body: "Ada: can you check @bob?", tag: "n1", icon: "/favicon.svg", badge: "/favicon.svg", data: { url: "/rooms/r1?reply=12", id: "n1" } } },
    ]);
  });

  it("titles a direct message by its sender, says what happened without a preview, opens a thread reply in its thread", async () => {
    const worker = loadWorker();
    for (const payload of PAYLOADS.slice(1)) await worker.dispatch("push", pushEvent(payload));
    expect(worker.shown.map((s) => [s.title, s.options.body, s.options.data.url])).toEqual([
      ["Bob", "lunch?", "/rooms/r2?reply=3"],
      ["dev", "Cid replied in a thread", "/rooms/r3?reply=40&thread=root-1"],
      ["all-hands", "Someone mentioned everyone", "/rooms/r4?reply=7"],
      ["Dee", "Dee sent you a message", "/rooms/r5?reply=1"],
    ]);
  });

  it("shows something for a push it cannot read (a push must be visible)", async () => {
    const worker = loadWorker();
    await worker.dispatch("push", { data: { json: () => JSON.parse("not json") } });
    await worker.dispatch("push", { data: null });
    expect(worker.shown.map((s) => s.title)).toEqual(["Parley", "Parley"]);
  });

  it("agrees with the app's presentation (lib/notification-view.ts)", () => {
    const worker = loadWorker();
    for (const payload of PAYLOADS) {
      const mine = presentNotification(fromJson(payload));
      const its = worker.hooks.present(worker.hooks.normalize(payload));
      expect(its).toEqual(mine);
    }
  });

  it("a click focuses the open window of the app and has it open the message in place", async () => {
    const background = client(`${ORIGIN}/rooms/x`);
    const foreign = client("https://elsewhere.example/");
    const worker = loadWorker([foreign, background]);
    let closed = false;
    await worker.dispatch("notificationclick", { notification: { data: { url: "/rooms/r1?reply=12" }, close: () => (closed = true) } });
    expect(closed).toBe(true);
    expect(background.focused).toBe(true);
    expect(background.messages).toEqual([{ type: "parley:open", url: "/rooms/r1?reply=12" }]);
    expect(foreign.messages).toEqual([]);
    expect(worker.opened).toEqual([]);
  });

  it("a click with no window of the app open opens one at the message; a foreign URL opens the app's start", async () => {
    const worker = loadWorker([]);
    await worker.dispatch("notificationclick", { notification: { data: { url: "/rooms/r3?reply=40&thread=root-1" }, close: () => undefined } });
    await worker.dispatch("notificationclick", { notification: { data: { url: "https://evil.example/phish" }, close: () => undefined } });
    expect(worker.opened).toEqual(["/rooms/r3?reply=40&thread=root-1", "/"]);
  });

  it("a renewed subscription is made with the same key and handed to the app (message and Cache Storage)", async () => {
    const open = client(`${ORIGIN}/`);
    const worker = loadWorker([open]);
    const key = new Uint8Array([1, 2, 3, 250]).buffer;
    await worker.dispatch("pushsubscriptionchange", { oldSubscription: { endpoint: "https://push.example/old", options: { applicationServerKey: key } }, newSubscription: null });
    expect(worker.subscribed).toEqual([{ userVisibleOnly: true, applicationServerKey: key }]);
    const change = { type: "parley:pushsubscriptionchange", subscription: { endpoint: "https://push.example/new", keys: { p256dh: "P", auth: "A" } }, vapidPublicKey: "AQID-g", oldEndpoint: "https://push.example/old" };
    expect(open.messages).toEqual([change]);
    expect(JSON.parse(worker.cached.get("/__parley/pending-push-subscription")!)).toEqual(change);
  });
});

describe("the app's notification view", () => {
  it("reads the socket's Notification (bigint seq, numeric reason)", () => {
    const n = fromProto({ id: "n", roomId: "r", seq: 9n, threadRootId: "", reason: 2, senderName: "Ada", roomName: "launch", preview: "hi", sound: true });
    expect(n).toMatchObject({ seq: 9, reason: "mention", sound: true });
    expect(presentNotification(n)).toEqual({ title: "launch", body: "Ada: hi", tag: "n", url: "/rooms/r?reply=9" });
  });

  it("builds the URL a notification opens", () => {
    expect(notificationUrl({ roomId: "r 1", seq: 5, threadRootId: "" })).toBe("/rooms/r%201?reply=5");
    expect(notificationUrl({ roomId: "r", seq: 5, threadRootId: "t" })).toBe("/rooms/r?reply=5&thread=t");
    expect(notificationUrl({ roomId: "", seq: 0, threadRootId: "" })).toBe("/");
  });

  it("shows a desktop notification only while hidden, enabled and permitted", () => {
    expect(shouldShowDesktop({ visibility: "hidden", desktopEnabled: true, permission: "granted" })).toBe(true);
    expect(shouldShowDesktop({ visibility: "visible", desktopEnabled: true, permission: "granted" })).toBe(false);
    expect(shouldShowDesktop({ visibility: "hidden", desktopEnabled: false, permission: "granted" })).toBe(false);
    expect(shouldShowDesktop({ visibility: "hidden", desktopEnabled: true, permission: "default" })).toBe(false);
    expect(shouldShowDesktop({ visibility: "hidden", desktopEnabled: true, permission: "unsupported" })).toBe(false);
  });

  it("follows only paths of the app itself", () => {
    expect(appPath("/rooms/r?reply=1", ORIGIN)).toBe("/rooms/r?reply=1");
    expect(appPath(`${ORIGIN}/rooms/r#seq-2`, ORIGIN)).toBe("/rooms/r#seq-2");
    expect(appPath("https://evil.example/", ORIGIN)).toBeUndefined();
  });
});
