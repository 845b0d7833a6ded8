// @vitest-environment happy-dom
// The open app's desktop notifications (lib/store/notifications.ts): a notification from the
// socket is shown (Notification API, tag = its id) only while the tab is hidden and the browser
// allows it; a click focuses the window and opens the message; tabs of the app show each id once,
// and a tab in view takes it without showing it; reading the room closes what was shown.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createNotifications } from "../src/lib/store/notifications";
import type { ShownNotification } from "../src/lib/notification-view";

class FakeNotification {
  static permission: NotificationPermission = "granted";
  static made: FakeNotification[] = [];
  onclick: ((event: Event) => void) | null = null;
  onclose: (() => void) | null = null;
  closed = false;
  constructor(
    public title: string,
    public options: NotificationOptions,
  ) {
    FakeNotification.made.push(this);
  }
  close() {
    this.closed = true;
    this.onclose?.();
  }
}

let visibility: DocumentVisibilityState = "visible";
const stores: ReturnType<typeof createNotifications>[] = [];

function tab(opened: string[] = []) {
  const store = createNotifications({ myId: "me", open: (path) => opened.push(path), isClosed: () => false });
  stores.push(store);
  return { store, opened };
}

const note = (id: string, extra: Partial<ShownNotification> = {}): ShownNotification => ({
  id,
  roomId: "room-1",
  seq: 12,
  threadRootId: "",
  reason: "mention",
  senderName: "Bob",
  roomName: "launch",
  preview: "@ada look",
  sound: false,
  ...extra,
});

beforeEach(() => {
  FakeNotification.made = [];
  FakeNotification.permission = "granted";
  (globalThis as { Notification: unknown }).Notification = FakeNotification;
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => visibility });
  localStorage.clear();
});

afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  visibility = "visible";
});

describe("desktop notifications in the open app", () => {
  it("shows one while the tab is hidden: the room as title, 'sender: preview', the id as tag; a click opens the message", async () => {
    visibility = "hidden";
    const { store, opened } = tab();
    await store.received(note("n1"));
    expect(FakeNotification.made.map((n) => [n.title, n.options.body, n.options.tag])).toEqual([["launch", "Bob: @ada look", "n1"]]);
    const [shown] = FakeNotification.made;
    shown!.onclick?.(new Event("click"));
    expect(opened).toEqual(["/rooms/room-1?reply=12"]);
    expect(shown!.closed).toBe(true);
  });

  it("shows nothing while the tab is in view, or without the browser's permission", async () => {
    const { store } = tab();
    await store.received(note("n1"));
    visibility = "hidden";
    FakeNotification.permission = "denied";
    await store.received(note("n2"));
    expect(FakeNotification.made).toEqual([]);
  });

  it("several tabs show an id once; a tab in view takes it and none shows it", async () => {
    visibility = "hidden";
    const [a, b] = [tab(), tab()];
    await Promise.all([a.store.received(note("n1")), b.store.received(note("n1"))]);
    expect(FakeNotification.made.map((n) => n.options.tag)).toEqual(["n1"]);

    // In view here (the other tab is hidden: the same storage, its own visibility at arrival).
    visibility = "visible";
    const seen = a.store.received(note("n2"));
    visibility = "hidden";
    await seen;
    await b.store.received(note("n2"));
    expect(FakeNotification.made.map((n) => n.options.tag)).toEqual(["n1"]);
  });

  it("closes what it showed once the room is read up to it", async () => {
    visibility = "hidden";
    const { store } = tab();
    await store.received(note("n1", { seq: 5 }));
    await store.received(note("n2", { seq: 9 }));
    store.readUpTo("room-1", 5);
    expect(FakeNotification.made.map((n) => n.closed)).toEqual([true, false]);
    store.readUpTo("room-1", 9);
    expect(FakeNotification.made.map((n) => n.closed)).toEqual([true, true]);
  });
});
