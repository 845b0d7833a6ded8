// Notifications in the open app (issue 18): my preferences, room and thread settings (loaded from
// the edge's `notifications` router, changed from the settings and the room and thread menus), the
// browser's permission, the sidebar's badge rule, and the desktop notifications themselves: a
// `notification` from the live socket is shown (Notification API, tag = its id) only while this
// tab is hidden, desktop notifications are on and the browser allows them; with a chime when the
// person wants one. Several tabs of the app show it once: they claim each id in a shared record.
import { createSignal, onCleanup, type Accessor } from "solid-js";
import { createStore, reconcile } from "solid-js/store";
import { DEFAULTS, LEVEL_NAMES } from "@parley/proto/rules/notify";
import { roomBadge, type Badge, type LevelName } from "../badges";
import { appPath, presentNotification, shouldShowDesktop, type ShownNotification } from "../notification-view";
import { activeUntil } from "../notify-time";
import { playChime } from "../sound";
import { keepPushCurrent, registerServiceWorker, type PushApi } from "../push";
import { useChat } from "./context";
import { notificationsApi, type Preferences, type PreferencesPatch, type RoomPreference, type ThreadPreference } from "../notify-api";

export type Notifications = ReturnType<typeof createNotifications>;
export type { Preferences, RoomPreference, ThreadPreference };

/** Until the server answers: the contract's defaults. */
export const DEFAULT_PREFERENCES: Preferences = {
  ...DEFAULTS,
  defaultLevel: LEVEL_NAMES[DEFAULTS.defaultLevel],
  dnd: { enabled: false, startMinute: 22 * 60, endMinute: 8 * 60, timeZone: "UTC" },
  pausedUntil: null,
};

const BANNER_KEY = "parley.notifications.banner-dismissed";
const SEEN_KEY = "parley.notifications.seen";

export type Permission = NotificationPermission | "unsupported";

const readPermission = (): Permission => (typeof Notification === "undefined" ? "unsupported" : Notification.permission);

/** Records `id` as handled by some tab, under a lock shared by the app's tabs: false when one did already. */
async function claim(id: string): Promise<boolean> {
  const record = (): boolean => {
    try {
      const seen = JSON.parse(localStorage.getItem(SEEN_KEY) ?? "[]") as string[];
      if (seen.includes(id)) return false;
      localStorage.setItem(SEEN_KEY, JSON.stringify([...seen.slice(-99), id]));
    } catch {
      // No storage: this tab decides alone.
    }
    return true;
  };
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  return locks ? ((await locks.request("parley.notifications", record)) as boolean) : record();
}

export function createNotifications(deps: { myId: string; open: (path: string) => void; isClosed: () => boolean }) {
  const [prefs, setPrefs] = createSignal<Preferences>(DEFAULT_PREFERENCES);
  const [loaded, setLoaded] = createSignal(false);
  const [roomPrefs, setRoomPrefs] = createStore<Record<string, RoomPreference>>({});
  const [threadPrefs, setThreadPrefs] = createStore<Record<string, ThreadPreference>>({});
  const [permission, setPermission] = createSignal<Permission>(readPermission());
  const [bannerDismissed, setBannerDismissed] = createSignal(globalThis.localStorage?.getItem(BANNER_KEY) === "1");
  // Mutes and pauses end by themselves: the badges look again every half minute.
  const [now, setNow] = createSignal(Date.now());
  const ticker = setInterval(() => setNow(Date.now()), 30_000);
  const shown = new Map<string, { notification: globalThis.Notification; roomId: string; seq: number }>();
  let stopPush: () => void = () => undefined;

  const pushApi: PushApi = {
    vapidPublicKey: () => notificationsApi.pushConfig().then((c) => c.vapidPublicKey),
    add: (s) => notificationsApi.addPushSubscription(s),
    remove: (which) => notificationsApi.removePushSubscription(which),
  };

  async function load(): Promise<void> {
    const answer = await notificationsApi.preferences();
    if (deps.isClosed()) return;
    setPrefs(answer.preferences);
    setRoomPrefs(reconcile(Object.fromEntries(answer.rooms.map((r) => [r.roomId, r]))));
    setThreadPrefs(reconcile(Object.fromEntries(answer.threads.map((t) => [t.threadRootId, t]))));
    setLoaded(true);
  }

  /** Changes some preferences: shown at once, the server's answer kept (or the old ones back on failure). */
  // Changes go out one after another; only the answer to the last one is shown (an earlier answer
  // would undo on screen a change still on its way).
  let queue: Promise<unknown> = Promise.resolve();
  let latest = 0;
  async function update(patch: PreferencesPatch): Promise<void> {
    const before = prefs();
    const mine = ++latest;
    setPrefs({ ...before, ...patch, dnd: { ...before.dnd, ...patch.dnd } });
    const sent = queue.then(() => notificationsApi.updatePreferences(patch));
    queue = sent.catch(() => undefined);
    try {
      const answer = await sent;
      if (mine === latest) setPrefs(answer);
    } catch (error) {
      if (mine === latest) setPrefs(before);
      throw error;
    }
  }

  async function setRoom(roomId: string, change: { level: LevelName | "default"; mutedUntil: string | null }): Promise<void> {
    const before = roomPrefs[roomId];
    setRoomPrefs(roomId, { roomId, ...change });
    try {
      setRoomPrefs(roomId, await notificationsApi.setRoom({ roomId, ...change }));
    } catch (error) {
      if (before) setRoomPrefs(roomId, before);
      else setRoomPrefs(roomId, undefined!);
      throw error;
    }
  }

  async function setThread(roomId: string, threadRootId: string, mutedUntil: string | null): Promise<void> {
    const before = threadPrefs[threadRootId];
    setThreadPrefs(threadRootId, { roomId, threadRootId, mutedUntil });
    try {
      setThreadPrefs(threadRootId, await notificationsApi.setThread({ rootId: threadRootId, mutedUntil }));
    } catch (error) {
      setThreadPrefs(threadRootId, before ?? undefined!);
      throw error;
    }
  }

  const roomLevel = (roomId: string): LevelName | "default" => roomPrefs[roomId]?.level ?? "default";
  const roomMutedUntil = (roomId: string): string | null => {
    const until = roomPrefs[roomId]?.mutedUntil ?? null;
    return activeUntil(until, now()) ? until : null;
  };
  const threadMutedUntil = (rootId: string): string | null => {
    const until = threadPrefs[rootId]?.mutedUntil ?? null;
    return activeUntil(until, now()) ? until : null;
  };
  const pausedUntil = (): string | null => (activeUntil(prefs().pausedUntil, now()) ? prefs().pausedUntil : null);

  function badgeOf(room: { id: string; unreadCount: number; mentionCount: number; visibility: string }): Badge {
    return roomBadge(room, roomPrefs[room.id], prefs().defaultLevel, now());
  }

  /** From the click of a button: asks the browser for permission to show notifications. */
  async function requestPermission(): Promise<Permission> {
    if (typeof Notification === "undefined") return "unsupported";
    const answer = await Notification.requestPermission();
    setPermission(answer);
    if (answer !== "default") dismissBanner();
    return answer;
  }

  function dismissBanner(): void {
    setBannerDismissed(true);
    try {
      localStorage.setItem(BANNER_KEY, "1");
    } catch {
      // The banner comes back on the next load.
    }
  }

  /** The banner after sign-in: desktop notifications are on, the browser has not been asked yet, and the person did not say "not now". */
  const showBanner: Accessor<boolean> = () => loaded() && prefs().desktop && permission() === "default" && !bannerDismissed();

  function openFrom(url: string): void {
    const path = appPath(url, location.origin);
    if (!path) return;
    window.focus();
    deps.open(path);
  }

  /** A notification from the live socket. */
  async function received(n: ShownNotification): Promise<void> {
    setPermission(readPermission());
    // A tab in view claims it at once and shows nothing (the person sees the message there); a
    // hidden one claims it a moment later, so that a tab in view wins.
    if (document.visibilityState !== "hidden") {
      await claim(n.id);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
    if (deps.isClosed() || !(await claim(n.id))) return;
    if (!shouldShowDesktop({ visibility: document.visibilityState, desktopEnabled: prefs().desktop, permission: permission() })) return;
    const view = presentNotification(n);
    const options: NotificationOptions = { body: view.body, tag: view.tag, icon: "/favicon.svg", data: { url: view.url, id: n.id } };
    try {
      const notification = new Notification(view.title, options);
      notification.onclick = (event) => {
        event.preventDefault();
        notification.close();
        openFrom(view.url);
      };
      notification.onclose = () => shown.delete(n.id);
      shown.set(n.id, { notification, roomId: n.roomId, seq: n.seq });
    } catch {
      // Where pages cannot construct notifications (Android), the service worker shows it; its click handler opens the room.
      const reg = await registerServiceWorker();
      await reg?.showNotification(view.title, options).catch(() => undefined);
    }
    if (n.sound && prefs().sound) void playChime();
  }

  /** The service worker asks the app to open a message (a click on a push notification). */
  const onWorkerMessage = (event: MessageEvent) => {
    const data = event.data as { type?: string; url?: string } | undefined;
    if (data?.type === "parley:open" && typeof data.url === "string") openFrom(data.url);
  };

  /** After sign-in: preferences, the service worker, push kept current. */
  let started = false;
  function start(): void {
    if (started) return;
    started = true;
    void load().catch((error: unknown) => console.warn("notifications:", error));
    if (typeof navigator !== "undefined" && "serviceWorker" in navigator) {
      navigator.serviceWorker.addEventListener("message", onWorkerMessage);
      // Messages from the worker (a click on a push) are delivered from now on, not only after the page's load.
      navigator.serviceWorker.startMessages();
    }
    void keepPushCurrent(pushApi, deps.myId)
      .then((stop) => {
        if (deps.isClosed()) stop();
        else stopPush = stop;
      })
      .catch((error: unknown) => console.warn("push:", error));
    const onVisible = () => {
      setPermission(readPermission());
      // Back in the tab: what it showed is read here now.
      if (document.visibilityState === "visible") for (const { notification } of shown.values()) notification.close();
    };
    document.addEventListener("visibilitychange", onVisible);
    stopVisibility = () => document.removeEventListener("visibilitychange", onVisible);
  }
  let stopVisibility = () => undefined as void;

  /** The room was read (here or on another device) up to `seq`: its notifications shown here go. */
  function readUpTo(roomId: string, seq: number): void {
    for (const [id, entry] of shown) {
      if (entry.roomId === roomId && entry.seq <= seq) {
        entry.notification.close();
        shown.delete(id);
      }
    }
  }

  return {
    prefs,
    loaded,
    load,
    update,
    roomPrefs,
    threadPrefs,
    setRoom,
    setThread,
    roomLevel,
    roomMutedUntil,
    threadMutedUntil,
    pausedUntil,
    badgeOf,
    permission,
    requestPermission,
    showBanner,
    dismissBanner,
    received,
    readUpTo,
    pushApi,
    start,
    close(): void {
      clearInterval(ticker);
      stopPush();
      stopVisibility();
      if (typeof navigator !== "undefined" && "serviceWorker" in navigator) navigator.serviceWorker.removeEventListener("message", onWorkerMessage);
    },
  };
}

export const useNotifications = (): Notifications => useChat().notifications;

/** The current time, ticking (for "muted until" texts). */
export function useNow(ms = 30_000): Accessor<number> {
  const [now, setNow] = createSignal(Date.now());
  const timer = setInterval(() => setNow(Date.now()), ms);
  onCleanup(() => clearInterval(timer));
  return now;
}
