// @vitest-environment happy-dom
// Web Push kept current on each load (lib/push.ts keepPushCurrent), against a fake service worker
// container and push manager: a subscription made with another VAPID key than the server's current
// one (the operator rotated the keys) is made again with the new key, recorded, and the old endpoint
// forgotten; one made with the current key is left alone; a renewal the service worker kept in
// Cache Storage (pushsubscriptionchange while no window was open) is told to the server.
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { bytesToBase64url, keepPushCurrent, subscribeThisDevice, type PushApi } from "../src/lib/push";

const OLD_KEY = bytesToBase64url(new Uint8Array(65).fill(4));
const NEW_KEY = bytesToBase64url(new Uint8Array(65).fill(7));

class FakeSubscription {
  unsubscribed = false;
  constructor(
    public endpoint: string,
    public key: string,
  ) {}
  get options() {
    const bytes = Uint8Array.from(atob(this.key.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    return { applicationServerKey: bytes.buffer, userVisibleOnly: true };
  }
  toJSON() {
    return { endpoint: this.endpoint, keys: { p256dh: `p-${this.endpoint}`, auth: `a-${this.endpoint}` } };
  }
  async unsubscribe() {
    this.unsubscribed = true;
    push.current = null;
    return true;
  }
}

const push = {
  current: null as FakeSubscription | null,
  made: 0,
  async getSubscription() {
    return this.current;
  },
  async subscribe(options: { applicationServerKey: Uint8Array }) {
    this.current = new FakeSubscription(`https://push.example/${++this.made}`, bytesToBase64url(options.applicationServerKey));
    return this.current;
  },
};
const cached = new Map<string, string>();

function fakeApi(serverKey: string) {
  const calls: { add: Parameters<PushApi["add"]>[0][]; remove: Parameters<PushApi["remove"]>[0][] } = { add: [], remove: [] };
  const api: PushApi = {
    vapidPublicKey: async () => serverKey,
    add: async (s) => void calls.add.push(s),
    remove: async (w) => void calls.remove.push(w),
  };
  return { api, calls };
}

beforeAll(() => {
  const registration = { pushManager: push, showNotification: async () => undefined };
  const container = Object.assign(new EventTarget(), { register: async () => registration, ready: Promise.resolve(registration), startMessages: () => undefined });
  Object.defineProperty(navigator, "serviceWorker", { configurable: true, value: container });
  (window as unknown as { PushManager: unknown }).PushManager = class {};
  (globalThis as { Notification: unknown }).Notification = { permission: "granted", requestPermission: async () => "granted" };
  (globalThis as { caches: unknown }).caches = {
    open: async () => ({
      match: async (key: string) => (cached.has(key) ? new Response(cached.get(key)) : undefined),
      delete: async (key: string) => cached.delete(key),
    }),
  };
});

beforeEach(() => {
  localStorage.clear();
  push.current = null;
  cached.clear();
});

describe("Web Push on this device", () => {
  it("subscribes with the server's key and records the subscription with a device label", async () => {
    const { api, calls } = fakeApi(OLD_KEY);
    const subscription = await subscribeThisDevice(api, "me");
    expect(subscription.endpoint).toMatch(/^https:\/\/push\.example\//);
    expect(calls.add).toEqual([{ endpoint: subscription.endpoint, p256dh: `p-${subscription.endpoint}`, auth: `a-${subscription.endpoint}`, vapidPublicKey: OLD_KEY, deviceLabel: expect.any(String) }]);
    expect(localStorage.getItem("parley.push.me")).toBe(subscription.endpoint);
  });

  it("on load, subscribes again when the server's key changed, and forgets the old endpoint", async () => {
    const first = await subscribeThisDevice(fakeApi(OLD_KEY).api, "me");
    const { api, calls } = fakeApi(NEW_KEY);
    (await keepPushCurrent(api, "me"))();
    expect((first as unknown as FakeSubscription).unsubscribed).toBe(true);
    expect(push.current?.key).toBe(NEW_KEY);
    expect(calls.add.map((a) => [a.endpoint, a.vapidPublicKey])).toEqual([[push.current!.endpoint, NEW_KEY]]);
    expect(calls.remove).toEqual([{ endpoint: first.endpoint }]);
    expect(localStorage.getItem("parley.push.me")).toBe(push.current!.endpoint);
  });

  it("leaves a subscription made with the current key alone, and one this person did not turn on", async () => {
    await subscribeThisDevice(fakeApi(NEW_KEY).api, "me");
    const same = fakeApi(NEW_KEY);
    (await keepPushCurrent(same.api, "me"))();
    expect(same.calls).toEqual({ add: [], remove: [] });
    const someoneElse = fakeApi(OLD_KEY);
    (await keepPushCurrent(someoneElse.api, "another-user"))();
    expect(someoneElse.calls).toEqual({ add: [], remove: [] });
  });

  it("tells the server of a renewal the service worker kept while no window was open", async () => {
    await subscribeThisDevice(fakeApi(NEW_KEY).api, "me");
    const old = push.current!.endpoint;
    cached.set(
      "/__parley/pending-push-subscription",
      JSON.stringify({ type: "parley:pushsubscriptionchange", subscription: { endpoint: "https://push.example/renewed", keys: { p256dh: "P", auth: "A" } }, vapidPublicKey: NEW_KEY, oldEndpoint: old }),
    );
    const { api, calls } = fakeApi(NEW_KEY);
    (await keepPushCurrent(api, "me"))();
    expect(calls.add[0]).toMatchObject({ endpoint: "https://push.example/renewed", p256dh: "P", auth: "A", vapidPublicKey: NEW_KEY });
    expect(calls.remove).toEqual([{ endpoint: old }]);
    expect(cached.size).toBe(0);
  });
});
