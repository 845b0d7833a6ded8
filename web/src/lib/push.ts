// Web Push on this device (issue 18): the service worker (/sw.js, scope "/"), registered after
// sign-in; subscribing with the server's VAPID key (PushManager.subscribe) and telling the server
// (addPushSubscription with PushSubscription.toJSON() and a device label); unsubscribing; and, on
// each load, subscribing again when the server's key is not the one the subscription was made
// with (the operator rotated the keys) or when the service worker renewed the subscription while
// no window was open (pushsubscriptionchange, kept in Cache Storage by sw.js).
import { deviceOf } from "./device";

/** What the edge's notifications router is asked, here (lib/store/notifications.ts passes the API). */
export interface PushApi {
  vapidPublicKey(): Promise<string>;
  add(subscription: { endpoint: string; p256dh: string; auth: string; vapidPublicKey: string; deviceLabel: string }): Promise<unknown>;
  remove(which: { id?: string; endpoint?: string }): Promise<unknown>;
}

const PENDING_CACHE = "parley-sw";
const PENDING_KEY = "/__parley/pending-push-subscription";
/** The endpoint this browser subscribed for a user (so a load renews only what that person turned on). */
const flagKey = (userId: string) => `parley.push.${userId}`;

export function bytesToBase64url(bytes: ArrayBuffer | Uint8Array | null | undefined): string {
  if (!bytes) return "";
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = "";
  for (const byte of view) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function base64urlToBytes(value: string): Uint8Array<ArrayBuffer> {
  const base64 = value.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(value.length / 4) * 4, "=");
  const binary = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The key a subscription was made with, base64url ("" when the browser does not say). */
export function subscriptionKey(subscription: Pick<PushSubscription, "options"> | null | undefined): string {
  return bytesToBase64url(subscription?.options?.applicationServerKey ?? null);
}

/** Whether a subscription must be made again: the server's key is another one. */
export function needsResubscribe(subscriptionKeyValue: string, serverKey: string): boolean {
  return !!serverKey && !!subscriptionKeyValue && subscriptionKeyValue !== serverKey;
}

/** The subscription's fields the server records. */
export function subscriptionFields(json: PushSubscriptionJSON): { endpoint: string; p256dh: string; auth: string } {
  const endpoint = json.endpoint ?? "";
  const p256dh = json.keys?.p256dh ?? "";
  const auth = json.keys?.auth ?? "";
  if (!endpoint || !p256dh || !auth) throw new Error("The browser gave an incomplete push subscription.");
  return { endpoint, p256dh, auth };
}

export const pushSupported = (): boolean =>
  typeof navigator !== "undefined" && "serviceWorker" in navigator && typeof window !== "undefined" && "PushManager" in window && "Notification" in window;

export const deviceLabel = (): string => deviceOf(typeof navigator === "undefined" ? "" : navigator.userAgent).slice(0, 100);

let registration: Promise<ServiceWorkerRegistration | undefined> | undefined;

/** Registers /sw.js (once per page); undefined where service workers are not available (not a secure context). */
export function registerServiceWorker(): Promise<ServiceWorkerRegistration | undefined> {
  if (typeof navigator === "undefined" || !("serviceWorker" in navigator)) return Promise.resolve(undefined);
  registration ??= navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(
    () => navigator.serviceWorker.ready,
    (error: unknown) => {
      console.warn("service worker:", error);
      return undefined;
    },
  );
  return registration;
}

export async function currentSubscription(): Promise<PushSubscription | null> {
  const reg = await registerServiceWorker();
  return (await reg?.pushManager.getSubscription()) ?? null;
}

async function subscribeWith(reg: ServiceWorkerRegistration, api: PushApi, userId: string, serverKey: string): Promise<PushSubscription> {
  const subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64urlToBytes(serverKey) });
  await api.add({ ...subscriptionFields(subscription.toJSON()), vapidPublicKey: serverKey, deviceLabel: deviceLabel() });
  localStorage.setItem(flagKey(userId), subscription.endpoint);
  return subscription;
}

/** "Push on this device": permission (from the click that called this), a subscription with the server's key, recorded by the server. */
export async function subscribeThisDevice(api: PushApi, userId: string): Promise<PushSubscription> {
  if (!pushSupported()) throw new Error("This browser cannot receive push notifications.");
  const permission = Notification.permission === "default" ? await Notification.requestPermission() : Notification.permission;
  if (permission !== "granted") throw new Error("Notifications are blocked for this site in the browser's settings.");
  const reg = await registerServiceWorker();
  if (!reg) throw new Error("The service worker could not start, so push cannot work here.");
  const serverKey = await api.vapidPublicKey();
  const existing = await reg.pushManager.getSubscription();
  if (existing && subscriptionKey(existing) !== serverKey) await existing.unsubscribe();
  else if (existing) {
    await api.add({ ...subscriptionFields(existing.toJSON()), vapidPublicKey: serverKey, deviceLabel: deviceLabel() });
    localStorage.setItem(flagKey(userId), existing.endpoint);
    return existing;
  }
  try {
    return await subscribeWith(reg, api, userId, serverKey);
  } catch (error) {
    if (error instanceof DOMException && (error.name === "AbortError" || error.name === "NotAllowedError")) {
      throw new Error(`The browser's push service refused the subscription (${error.message || error.name}).`);
    }
    throw error;
  }
}

/** Stops push on this device: the server forgets it, the browser drops it. */
export async function unsubscribeThisDevice(api: PushApi, userId: string): Promise<void> {
  const subscription = await currentSubscription();
  localStorage.removeItem(flagKey(userId));
  if (!subscription) return;
  await api.remove({ endpoint: subscription.endpoint }).catch(() => undefined);
  await subscription.unsubscribe().catch(() => false);
}

/** Whether this browser holds a subscription this person turned on. */
export async function subscribedHere(userId: string): Promise<boolean> {
  const subscription = await currentSubscription();
  return !!subscription && localStorage.getItem(flagKey(userId)) === subscription.endpoint;
}

interface SubscriptionChange {
  type: "parley:pushsubscriptionchange";
  subscription: PushSubscriptionJSON;
  vapidPublicKey: string;
  oldEndpoint: string | null;
}

/** A subscription the service worker renewed: the server records the new one and forgets the old one. */
export async function applySubscriptionChange(api: PushApi, userId: string, change: SubscriptionChange): Promise<void> {
  const fields = subscriptionFields(change.subscription);
  await api.add({ ...fields, vapidPublicKey: change.vapidPublicKey, deviceLabel: deviceLabel() });
  localStorage.setItem(flagKey(userId), fields.endpoint);
  if (change.oldEndpoint && change.oldEndpoint !== fields.endpoint) await api.remove({ endpoint: change.oldEndpoint }).catch(() => undefined);
}

async function takePendingChange(): Promise<SubscriptionChange | undefined> {
  if (typeof caches === "undefined") return undefined;
  try {
    const cache = await caches.open(PENDING_CACHE);
    const response = await cache.match(PENDING_KEY);
    if (!response) return undefined;
    await cache.delete(PENDING_KEY);
    return (await response.json()) as SubscriptionChange;
  } catch {
    return undefined;
  }
}

/**
 * On each load (signed in): renews this person's push subscription when the server's VAPID key is
 * another one than it was made with, when the browser dropped it, or when the service worker
 * renewed it meanwhile; and listens for renewals while the app is open.
 */
export async function keepPushCurrent(api: PushApi, userId: string): Promise<() => void> {
  const reg = await registerServiceWorker();
  if (!reg || !pushSupported()) return () => undefined;
  const onMessage = (event: MessageEvent) => {
    const data = event.data as Partial<SubscriptionChange> | undefined;
    if (data?.type === "parley:pushsubscriptionchange" && localStorage.getItem(flagKey(userId))) {
      void takePendingChange().then(() => applySubscriptionChange(api, userId, data as SubscriptionChange)).catch((error: unknown) => console.warn("push:", error));
    }
  };
  navigator.serviceWorker.addEventListener("message", onMessage);
  const stop = () => navigator.serviceWorker.removeEventListener("message", onMessage);
  const wanted = localStorage.getItem(flagKey(userId));
  if (!wanted) return stop;
  const pending = await takePendingChange();
  if (pending) await applySubscriptionChange(api, userId, pending).catch((error: unknown) => console.warn("push:", error));
  if (Notification.permission !== "granted") return stop;
  const serverKey = await api.vapidPublicKey();
  const existing = await reg.pushManager.getSubscription();
  if (existing && !needsResubscribe(subscriptionKey(existing), serverKey)) return stop;
  // Rotated keys (or a subscription the browser dropped): subscribe again, then forget the old endpoint.
  const oldEndpoint = existing?.endpoint;
  if (existing) await existing.unsubscribe().catch(() => false);
  await subscribeWith(reg, api, userId, serverKey);
  if (oldEndpoint) await api.remove({ endpoint: oldEndpoint }).catch(() => undefined);
  return stop;
}
