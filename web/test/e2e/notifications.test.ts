// Notifications in a browser (issue 18), end to end through the notification worker. Ada has
// granted notifications (the test browser's permission) and reads another room with her tab
// hidden; Bob mentions her: the worker sends the notification to her sockets and a desktop
// notification shows (title: the room, body "Bob: …", tag: the notification's id) and a click on
// it opens the room at the message. A notification that comes while her tab is in view shows
// nothing. The service worker's push handler shows the notification of a synthetic push (CDP
// ServiceWorker.deliverPushMessage) and it is among registration.getNotifications(). Bob, who has
// not granted anything, sees the "Turn on desktop notifications" banner; "Not now" keeps it away
// across a reload. Preferences, push devices (listed, removed; "Push on this device" says this
// headless browser has no push service), a room's mute and a thread's mute survive a reload; the
// room dialog gives focus back to its bell; a room at "nothing" and muted is quiet and dimmed.
// Screenshots light and dark, 1280 and 390 wide.
//
// Headless Chromium reports every page as visible, whatever is in front (another page brought to
// front, a tab opened over it, a minimised window, and headed under Xvfb were all tried: the page
// stays "visible"). So an init script stands in for the browser there: it makes
// document.visibilityState and document.hidden say "hidden" and fires visibilitychange, on the
// test's word; the test checks the page reads "hidden". The same init script records every
// `new Notification(...)` (still calling the browser's own) so the test can see it and click it.
import { createECDH, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { BrowserContext, Page } from "playwright-core";
import { atFailure, eventually, openBrowserFor, screenshot, useBrowserStack } from "./harness";
import { messageRow, ok, register, send, signIn } from "./people";

// A push service the tests name (the server posts only to allowed hosts besides public ones).
const stack = useBrowserStack({ NOTIFY_PUSH_ALLOWED_HOSTS: "push.parley.test" });

const roomLink = (page: Page, name: string) => page.locator(`a.room-link[data-room-name="${name}"]`);

interface Recorded {
  title: string;
  body: string;
  tag: string;
  url: string;
}

/** Records `new Notification(...)` (calling the real one) and lets the test hide the tab. */
async function instrument(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    let hidden = false;
    Object.defineProperty(Document.prototype, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
    Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
    w.__setHidden = (value: boolean) => {
      hidden = value;
      document.dispatchEvent(new Event("visibilitychange"));
    };
    const Real = window.Notification;
    if (!Real) return;
    const shown: Notification[] = [];
    w.__notifications = shown;
    class Recording extends Real {
      constructor(title: string, options?: NotificationOptions) {
        super(title, options);
        shown.push(this);
      }
    }
    window.Notification = Recording as typeof Notification;
  });
}

async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((value) => (window as unknown as { __setHidden(v: boolean): void }).__setHidden(value), hidden);
  expect(await page.evaluate(() => document.visibilityState)).toBe(hidden ? "hidden" : "visible");
}

const recorded = (page: Page): Promise<Recorded[]> =>
  page.evaluate(() =>
    ((window as unknown as { __notifications?: Notification[] }).__notifications ?? []).map((n) => ({
      title: n.title,
      body: n.body,
      tag: n.tag,
      url: (n.data as { url?: string } | null)?.url ?? "",
    })),
  );

describe("notifications in a browser", { timeout: 240_000 }, () => {
  it("shows a desktop notification for a mention while the tab is hidden, opens the message on click, shows a push from the service worker, and keeps the settings", async () => {
    const ada = await openBrowserFor(stack.browser, "Ada");
    const bob = await openBrowserFor(stack.browser, "Bob", { colorScheme: "dark" });
    await ada.context.grantPermissions(["notifications"], { origin: stack.gateway.url });
    await instrument(ada.context);
    const [adaAccount, bobAccount] = [await register(stack.rest, ada), await register(stack.rest, bob)];
    const room = await ok(stack.rest, "POST", "/rooms", adaAccount.token, { name: "launch", visibility: "private" });
    await ok(stack.rest, "POST", "/rooms", adaAccount.token, { name: "elsewhere", visibility: "private" });
    await ok(stack.rest, "POST", `/rooms/${room.id}/members`, adaAccount.token, { userId: bobAccount.id });
    for (let i = 1; i <= 30; i++) await ok(stack.rest, "POST", "/messages", bobAccount.token, { roomId: room.id, body: `Earlier message ${i}` });
    await signIn(ada, stack.gateway.url);
    await signIn(bob, stack.gateway.url, `/rooms/${room.id}`);

    // Bob has not granted notifications: the banner asks (from a click, never on load); "Not now" keeps it away.
    const banner = bob.page.getByTestId("notify-banner");
    await banner.waitFor();
    await screenshot(bob.page, "notifications-01-banner-desktop-dark");
    await bob.page.getByRole("button", { name: "Hide members" }).first().click();
    await bob.page.setViewportSize({ width: 390, height: 780 });
    await screenshot(bob.page, "notifications-02-banner-phone-dark");
    await banner.getByRole("button", { name: "Not now" }).click();
    await expect.poll(() => banner.count()).toBe(0);
    await bob.page.reload();
    await bob.page.getByRole("textbox", { name: /^Message / }).waitFor();
    expect(await banner.count()).toBe(0);
    await bob.page.setViewportSize({ width: 1280, height: 800 });
    // Ada granted it: no banner; the service worker is registered after sign-in.
    expect(await ada.page.getByTestId("notify-banner").count()).toBe(0);
    await ada.page.waitForFunction(async () => !!(await navigator.serviceWorker.getRegistration("/"))?.active);

    // Ada reads another room, then leaves the tab.
    await roomLink(ada.page, "elsewhere").click();
    await ada.page.getByRole("heading", { level: 1, name: "elsewhere" }).waitFor();

    // A mention while her tab is in view shows nothing (she sees the app): the tab takes the
    // notification (tabs record what one of them handled) and leaves it.
    const handled = () => ada.page.evaluate(() => JSON.parse(localStorage.getItem("parley.notifications.seen") ?? "[]") as string[]);
    await setHidden(ada.page, false);
    await send(bob.page, `@${ada.username} this one while you look`);
    await messageRow(bob.page, "while you look").waitFor();
    await atFailure(ada.page, "notifications-failed-visible", () => eventually(async () => expect(await handled()).toHaveLength(1), 20_000, "the notification of the mention seen in view"));

    // Hidden: Bob mentions her again. The notification worker sends it to her sockets; the app shows it.
    await setHidden(ada.page, true);
    await send(bob.page, `@${ada.username} can you check the release notes?`);
    await messageRow(bob.page, "release notes").waitFor();
    // The message as stored (the row shows while the send is still on its way).
    let mention: { id: string; seq: number; body: string } = { id: "", seq: 0, body: "" };
    await eventually(async () => {
      mention = (await ok(stack.rest, "GET", `/messages/${room.id}?limit=1`, bobAccount.token)).messages[0];
      expect(mention.body).toContain("release notes");
    }, 10_000, "the mention stored");
    await atFailure(ada.page, "notifications-failed-desktop", () =>
      eventually(async () => expect(await recorded(ada.page)).toHaveLength(1), 20_000, "the desktop notification"),
    );
    const shown = await recorded(ada.page);
    // Once, and only the one that came while hidden; its tag is the notification's id (the second one handled).
    const ids = await handled();
    expect(ids).toHaveLength(2);
    expect(shown).toEqual([{ title: "launch", body: `Bob: @${ada.username} can you check the release notes?`, tag: ids[1], url: `/rooms/${room.id}?reply=${mention.seq}` }]);

    // A click on it opens the room at the message.
    await ada.page.evaluate(() => {
      const [n] = (window as unknown as { __notifications: Notification[] }).__notifications;
      n!.onclick?.call(n!, new Event("click"));
    });
    await ada.page.waitForURL(new RegExp(`/rooms/${room.id}\\?reply=${mention.seq}$`));
    await ada.page.getByRole("heading", { level: 1, name: "launch" }).waitFor();
    await messageRow(ada.page, "release notes").waitFor();
    await expect.poll(() => ada.page.locator(`[data-seq="${mention.seq}"][data-highlighted="true"]`).count()).toBe(1);
    await setHidden(ada.page, false);

    // The service worker's push handler: a synthetic push shows the notification.
    const cdp = await ada.context.newCDPSession(ada.page);
    const registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] = [];
    cdp.on("ServiceWorker.workerRegistrationUpdated", (event) => registrations.push(...event.registrations));
    await cdp.send("ServiceWorker.enable");
    await eventually(() => expect(registrations.some((r) => r.scopeURL === `${stack.gateway.url}/` && !r.isDeleted)).toBe(true), 10_000, "the service worker's registration");
    const registrationId = registrations.find((r) => r.scopeURL === `${stack.gateway.url}/` && !r.isDeleted)!.registrationId;
    const payload = { id: "push-1", roomId: room.id, seq: String(mention.seq), threadRootId: "", reason: "mention", senderName: "Bob", roomName: "launch", preview: "can you check the release notes?" };
    await cdp.send("ServiceWorker.deliverPushMessage", { origin: stack.gateway.url, registrationId, data: JSON.stringify(payload) });
    const fromWorker = () =>
      ada.page.evaluate(async () =>
        (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, url: (n.data as { url: string }).url })),
      );
    await eventually(async () => expect(await fromWorker()).toContainEqual({ title: "launch", body: "Bob: can you check the release notes?", tag: "push-1", url: `/rooms/${room.id}?reply=${mention.seq}` }), 10_000, "the push notification");

    // The room's bell: mute #elsewhere until unmuted; focus comes back to the bell.
    await roomLink(ada.page, "elsewhere").click();
    await ada.page.getByRole("heading", { level: 1, name: "elsewhere" }).waitFor();
    const bell = ada.page.getByTestId("room-notify-button");
    await bell.click();
    const roomDialog = ada.page.getByRole("dialog", { name: "Notifications for #elsewhere" });
    await roomDialog.getByRole("radio", { name: "All messages", exact: true }).check();
    await roomDialog.getByRole("button", { name: "Until I unmute" }).click();
    await roomDialog.getByTestId("room-muted").waitFor();
    await screenshot(ada.page, "notifications-03-room-dialog-desktop-light");
    await ada.page.keyboard.press("Escape");
    await expect.poll(() => roomDialog.count()).toBe(0);
    expect(await bell.evaluate((el) => el === document.activeElement)).toBe(true);
    await roomLink(ada.page, "elsewhere").getByTestId("muted-icon").waitFor();

    // Preferences: the default level, sound off, do-not-disturb hours in a time zone, the email delay.
    await ada.page.locator(".me-button").click();
    const profile = ada.page.getByRole("dialog", { name: "Your profile" });
    const settings = profile.getByTestId("notification-settings");
    await settings.waitFor();
    await settings.getByLabel("Notify me about").selectOption("all");
    await settings.getByRole("switch", { name: "Play a sound" }).uncheck();
    await settings.getByRole("switch", { name: "Every day between these hours" }).check();
    await settings.getByLabel("From", { exact: true }).fill("21:30");
    await settings.getByLabel("From", { exact: true }).blur();
    await settings.getByLabel("To", { exact: true }).fill("07:15");
    await settings.getByLabel("To", { exact: true }).blur();
    await settings.getByLabel("Time zone").selectOption("Europe/Berlin");
    await settings.getByLabel("Email after").selectOption("3600");
    await settings.getByRole("button", { name: "For 1 hour" }).click();
    await settings.getByTestId("notify-paused").waitFor();
    await eventually(async () => {
      const prefs = (await ok(stack.rest, "GET", "/notifications/preferences", adaAccount.token)).preferences;
      expect(prefs).toMatchObject({ defaultLevel: "all", sound: false, emailDelaySeconds: 3600, dnd: { enabled: true, startMinute: 21 * 60 + 30, endMinute: 7 * 60 + 15, timeZone: "Europe/Berlin" } });
      expect(prefs.pausedUntil).not.toBeNull();
    }, 10_000, "the preferences saved");
    await settings.scrollIntoViewIfNeeded();
    await screenshot(ada.page, "notifications-04-settings-desktop-light");

    // Push devices: another browser of Ada's is listed and can be removed. This headless browser
    // has no push service, so "Push on this device" says the browser refused.
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    await ok(stack.rest, "POST", "/notifications/push/subscriptions", adaAccount.token, {
      endpoint: "https://push.parley.test/send/abc123",
      keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: randomBytes(16).toString("base64url") },
      deviceLabel: "Firefox on Android",
    });
    await ada.page.keyboard.press("Escape");
    await ada.page.locator(".me-button").click();
    const devices = settings.getByTestId("push-devices");
    const device = devices.getByTestId("push-device").filter({ hasText: "Firefox on Android" });
    await device.waitFor();
    expect(await device.textContent()).toContain("push.parley.test");
    await devices.getByTestId("push-subscribe").click();
    await devices.getByRole("alert").waitFor();
    expect(await devices.getByRole("alert").textContent()).toMatch(/refused|push/i);
    await devices.scrollIntoViewIfNeeded();
    await screenshot(ada.page, "notifications-04b-push-devices-desktop-light");
    await device.getByRole("button", { name: "Remove Firefox on Android" }).click();
    await expect.poll(() => device.count()).toBe(0);
    expect((await ok(stack.rest, "GET", "/notifications/push/subscriptions", adaAccount.token)).subscriptions).toEqual([]);

    // After a reload: all of it is still there.
    await ada.page.reload();
    await ada.page.getByRole("heading", { level: 1, name: "elsewhere" }).waitFor();
    await roomLink(ada.page, "elsewhere").getByTestId("muted-icon").waitFor();
    await ada.page.locator(".me-button").click();
    await settings.waitFor();
    await expect.poll(() => settings.getByLabel("Notify me about").inputValue()).toBe("all");
    expect(await settings.getByRole("switch", { name: "Play a sound" }).isChecked()).toBe(false);
    expect(await settings.getByRole("switch", { name: "Every day between these hours" }).isChecked()).toBe(true);
    expect(await settings.getByLabel("From", { exact: true }).inputValue()).toBe("21:30");
    expect(await settings.getByLabel("To", { exact: true }).inputValue()).toBe("07:15");
    expect(await settings.getByLabel("Time zone").inputValue()).toBe("Europe/Berlin");
    expect(await settings.getByLabel("Email after").inputValue()).toBe("3600");
    await settings.getByTestId("notify-paused").waitFor();
    await ada.page.keyboard.press("Escape");
    await ada.page.getByRole("button", { name: "Hide members" }).first().click();
    await ada.page.setViewportSize({ width: 390, height: 844 });
    await ada.page.getByRole("button", { name: "Open rooms" }).click();
    await ada.page.locator(".me-button").click();
    await settings.waitFor();
    await settings.getByTestId("notify-paused").scrollIntoViewIfNeeded();
    await screenshot(ada.page, "notifications-05-settings-phone-light");
    await settings.getByTestId("dnd-zone").scrollIntoViewIfNeeded();
    await screenshot(ada.page, "notifications-05b-settings-dnd-phone-light");
    await ada.page.keyboard.press("Escape");
    await expect.poll(() => profile.count()).toBe(0);
    // The drawer closes too.
    await ada.page.keyboard.press("Escape");
    await ada.page.getByTestId("room-notify-button").click();
    await ada.page.getByRole("dialog", { name: "Notifications for #elsewhere" }).getByTestId("room-muted").waitFor();
    expect(await ada.page.getByRole("dialog", { name: "Notifications for #elsewhere" }).getByRole("radio", { name: "All messages", exact: true }).isChecked()).toBe(true);
    await screenshot(ada.page, "notifications-06-room-dialog-phone-light");
    await ada.page.keyboard.press("Escape");

    // A thread's mute, in its panel: saved, and still there after a reload.
    const root = await ok(stack.rest, "POST", "/messages", bobAccount.token, { roomId: room.id, body: "Thread about the launch date" });
    await ok(stack.rest, "POST", "/messages", bobAccount.token, { roomId: room.id, body: "Tuesday?", threadRootId: root.id });
    await ada.page.goto(`${stack.gateway.url}/rooms/${room.id}?thread=${root.id}`);
    const mute = ada.page.getByTestId("thread-panel").getByTestId("thread-mute");
    await mute.waitFor();
    expect(await mute.getAttribute("aria-pressed")).toBe("false");
    await mute.click();
    await expect.poll(() => mute.getAttribute("aria-pressed")).toBe("true");
    await eventually(async () => {
      const { threads } = await ok(stack.rest, "GET", "/notifications/preferences", adaAccount.token);
      expect(threads.map((t: { threadRootId: string }) => t.threadRootId)).toContain(root.id);
    }, 10_000, "the thread mute saved");
    await ada.page.reload();
    await mute.waitFor();
    await expect.poll(() => mute.getAttribute("aria-pressed")).toBe("true");
    await screenshot(ada.page, "notifications-08b-thread-muted-phone-light");

    // Bob (dark): his settings and the sidebar at both widths.
    await bob.page.locator(".me-button").click();
    await bob.page.getByTestId("notification-settings").waitFor();
    await screenshot(bob.page, "notifications-07-settings-desktop-dark");
    await bob.page.setViewportSize({ width: 390, height: 844 });
    await screenshot(bob.page, "notifications-08-settings-phone-dark");
    await bob.page.keyboard.press("Escape");
    // Bob mutes #launch at level "nothing": quiet, dimmed, with the muted bell.
    await bob.page.getByTestId("room-notify-button").click();
    const bobDialog = bob.page.getByRole("dialog", { name: "Notifications for #launch" });
    await bobDialog.getByRole("radio", { name: "Nothing", exact: true }).check();
    await bobDialog.getByRole("button", { name: "For 8 hours" }).click();
    await bobDialog.getByTestId("room-muted").waitFor();
    await screenshot(bob.page, "notifications-09-room-dialog-phone-dark");
    await bobDialog.getByRole("button", { name: "Done" }).click();
    await bob.page.setViewportSize({ width: 1280, height: 800 });
    await bob.page.getByRole("link", { name: "Parley" }).click();
    await bob.page.getByRole("heading", { name: /Welcome/ }).waitFor();
    await ok(stack.rest, "POST", "/messages", adaAccount.token, { roomId: room.id, body: "a message Bob's badge stays quiet for" });
    await roomLink(bob.page, "launch").getByTestId("muted-icon").waitFor();
    expect(await roomLink(bob.page, "launch").getAttribute("data-badge")).toBe("quiet");
    expect(await roomLink(bob.page, "launch").getByTestId("unread-badge").count()).toBe(0);
    await screenshot(bob.page, "notifications-10-muted-room-desktop-dark");

    expect(ada.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
    expect(ada.dialogs).toEqual([]);
  });
});
