// Sessions, edit history, message links, who reacted and the phone Pinned panel in a real browser
// (issue 16). Ada is signed in on a laptop (desktop context) and a phone (another context, another
// user agent): from the laptop's profile she signs the phone out, which drops to the sign-in page,
// then signs out everywhere else. She edits a message and reads its history. She opens a link to
// an old message (loaded on demand), copies its link, and Bob opens it in his own browser: it is
// scrolled to and highlighted. Cara, on a touch phone, long-presses a reaction to see who reacted
// (by name), reaches the same by keyboard, and opens the Pinned panel as a full-screen overlay
// whose close button gives focus back to its toggle. Screenshots desktop + phone, light + dark.
import { describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { eventually, openBrowserFor, screenshot, useBrowserStack } from "./harness";
import { messageRow as message, register as registerAt, signIn } from "./people";

const PHONE = { width: 390, height: 844 };
const LINUX_CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36";
const ANDROID_FIREFOX = "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0";

// 80 messages are sent at once to make a history longer than the first page.
const stack = useBrowserStack({ RATE_SEND_PER_10S_USER: "1000", RATE_SEND_PER_10S_ADDRESS: "1000" });
const rest = (method: string, path: string, token?: string, body?: unknown) => stack.rest(method, path, token, body);
const register = (person: Parameters<typeof registerAt>[1]) => registerAt(stack.rest, person);

async function shootBoth(page: Page, name: string, sizes: ("desktop" | "phone")[] = ["desktop", "phone"]): Promise<void> {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const size of sizes) {
      await page.setViewportSize(size === "phone" ? PHONE : { width: 1280, height: 800 });
      await screenshot(page, `${name}-${size}-${scheme}`);
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
}

/** Whether the element is wholly inside the page's message list as it is scrolled now. */
async function inView(page: Page, selector: string): Promise<boolean> {
  return page.evaluate((sel) => {
    const element = document.querySelector(sel);
    const scroller = document.querySelector(".scroller");
    if (!element || !scroller) return false;
    const a = element.getBoundingClientRect();
    const b = scroller.getBoundingClientRect();
    return a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
  }, selector);
}

describe("sessions, edit history, links, who reacted, phone pins", () => {
  it("signs out another session from the profile (it drops to sign-in), then every other session", async () => {
    const laptop = await openBrowserFor(stack.browser, "Ada", { userAgent: LINUX_CHROME });
    const phone = await openBrowserFor(stack.browser, "Ada", { userAgent: ANDROID_FIREFOX, viewport: PHONE });
    phone.username = laptop.username;
    phone.email = laptop.email;
    const account = await register(laptop);
    await signIn(laptop, stack.gateway.url);
    await signIn(phone, stack.gateway.url);

    await laptop.page.getByRole("button", { name: /^Your profile/ }).click();
    const profile = laptop.page.getByRole("dialog", { name: "Your profile" });
    const sessions = profile.locator('[data-testid="sessions"] .session');
    // The registration's session (made by this test over REST), the phone's and this one.
    await eventually(async () => expect(await sessions.count()).toBe(3));
    const here = profile.locator('.session[data-current="true"]');
    expect(await here.locator(".session-device").textContent()).toContain("Chrome on Linux");
    expect(await here.textContent()).toContain("this device");
    expect(await here.getByRole("button", { name: /^Sign out/ }).count()).toBe(0);
    const phoneRow = profile.locator(".session", { hasText: "Firefox on Android" });
    expect(await phoneRow.textContent()).toMatch(/127\.0\.0\.1.*signed in .* last used /s);
    await shootBoth(laptop.page, "sessions-profile");
    await laptop.page.setViewportSize({ width: 1280, height: 800 });

    // Sign out the phone: asked first; cancelling changes nothing.
    await phoneRow.getByRole("button", { name: /^Sign out Firefox on Android/ }).click();
    const confirm = laptop.page.getByRole("dialog", { name: "Sign out this session?" });
    await confirm.getByRole("button", { name: "Cancel" }).click();
    await confirm.waitFor({ state: "detached" });
    expect(await sessions.count()).toBe(3);
    await phoneRow.getByRole("button", { name: /^Sign out Firefox on Android/ }).click();
    await confirm.getByRole("button", { name: "Sign out session" }).click();
    await profile.getByRole("status").filter({ hasText: "Signed out Firefox on Android." }).waitFor();
    await eventually(async () => expect(await sessions.count()).toBe(2));
    // The phone's socket is closed at once (4003): it drops to the sign-in page.
    await phone.page.getByRole("heading", { name: "Sign in to Parley" }).waitFor({ timeout: 20_000 });
    expect(new URL(phone.page.url()).pathname).toBe("/signin");

    // Sign out everywhere else: the REST session ends too, this one stays.
    await profile.getByRole("button", { name: "Sign out everywhere else" }).click();
    await laptop.page.getByRole("dialog", { name: "Sign out everywhere else?" }).getByRole("button", { name: "Sign out other sessions" }).click();
    await profile.getByRole("status").filter({ hasText: "Signed out 1 other session." }).waitFor();
    await eventually(async () => expect(await sessions.count()).toBe(1));
    expect(await profile.getByRole("button", { name: "Sign out everywhere else" }).count()).toBe(0);
    await eventually(async () => expect((await rest("GET", "/users/me", account.token)).status).toBe(401));
    // This device is still signed in and live.
    await profile.getByRole("button", { name: "Close" }).click();
    await laptop.page.locator('[data-testid="connection"][data-state="live"]').waitFor({ state: "attached" });
    expect(laptop.errors.concat(phone.errors)).toEqual([]);
    await laptop.context.close();
    await phone.context.close();
  }, 120_000);

  it("views an edited message's history; opens a copied link to an old message in another browser, scrolled to and highlighted", async () => {
    const ada = await openBrowserFor(stack.browser, "Ada", { permissions: ["clipboard-read", "clipboard-write"] });
    const bob = await openBrowserFor(stack.browser, "Bob");
    const adaAccount = await register(ada);
    const bobAccount = await register(bob);
    const room = (await rest("POST", "/rooms", adaAccount.token, { name: "history", visibility: "private" })).json;
    expect((await rest("POST", `/rooms/${room.id}/members`, adaAccount.token, { userId: bobAccount.id })).status).toBe(201);
    for (let i = 1; i <= 80; i++) {
      expect((await rest("POST", "/messages", i % 2 ? adaAccount.token : bobAccount.token, { roomId: room.id, body: `message number ${i}` })).status).toBe(201);
    }
    const edited = (await rest("POST", "/messages", adaAccount.token, { roomId: room.id, body: "The plan: **Friday**" })).json;
    for (const body of ["The plan: **Saturday**", "The plan: **Sunday**, 10:00"]) {
      expect((await rest("PUT", `/messages/${edited.id}`, adaAccount.token, { body })).status).toBe(200);
    }
    const path = `/rooms/${room.id}`;
    await signIn(ada, stack.gateway.url, path);

    // Edit history: "(edited)" is a button opening the versions, newest first, as markdown.
    const target = message(ada.page, "The plan:");
    await target.getByRole("button", { name: "(edited)" }).click();
    const history = ada.page.getByRole("dialog", { name: "Edit history" });
    const versions = history.locator('[data-testid="edit-version"]');
    await eventually(async () => expect(await versions.count()).toBe(3));
    expect(await versions.locator("strong").allTextContents()).toEqual(["Sunday", "Saturday", "Friday"]);
    expect(await versions.nth(0).textContent()).toContain("Current");
    expect(await versions.nth(2).textContent()).toContain("Original");
    await shootBoth(ada.page, "edit-history");
    await history.getByRole("button", { name: "Close" }).click();
    await ada.page.setViewportSize({ width: 1280, height: 800 });

    // Message 5 is far before the first page (50 of 81): a link to it loads it in and highlights it.
    expect(await ada.page.locator('[data-seq="5"]').count()).toBe(0);
    await ada.page.goto(`${stack.gateway.url}${path}#seq-5`);
    await ada.page.locator('[data-seq="5"][data-highlighted="true"]').waitFor();
    const fifth = message(ada.page, "message number 5").first();
    await fifth.hover();
    await fifth.getByRole("button", { name: "Copy link to message" }).click();
    await ada.page.getByText("Link copied").waitFor();
    const link = await ada.page.evaluate(() => navigator.clipboard.readText());
    expect(link).toBe(`${stack.gateway.url}${path}#seq-5`);

    // Bob opens it in his browser: scrolled to and highlighted (and not merely present).
    await signIn(bob, stack.gateway.url);
    await bob.page.goto(link);
    await bob.page.locator('[data-seq="5"][data-highlighted="true"]').waitFor({ timeout: 20_000 });
    expect(await inView(bob.page, '[data-seq="5"]')).toBe(true);
    expect(await bob.page.locator('[data-seq="5"]').textContent()).toContain("message number 5");
    await screenshot(bob.page, "message-link-desktop-light");
    // The highlight goes away by itself.
    await bob.page.locator('[data-seq="5"][data-highlighted="true"]').waitFor({ state: "detached" });
    expect(await bob.page.locator('[data-seq="5"].flash').count()).toBe(0);
    expect(ada.errors.concat(bob.errors)).toEqual([]);
    await ada.context.close();
    await bob.context.close();
  }, 180_000);

  it("on a touch phone: a long press shows who reacted by name (also by keyboard); the Pinned panel is a full-screen overlay that gives focus back", async () => {
    const ada = await openBrowserFor(stack.browser, "Ada");
    const bob = await openBrowserFor(stack.browser, "Bob");
    const cara = await openBrowserFor(stack.browser, "Cara", { hasTouch: true, isMobile: true, viewport: PHONE });
    const [adaAccount, bobAccount, caraAccount] = [await register(ada), await register(bob), await register(cara)];
    const room = (await rest("POST", "/rooms", adaAccount.token, { name: "touch", visibility: "private" })).json;
    for (const who of [bobAccount, caraAccount]) await rest("POST", `/rooms/${room.id}/members`, adaAccount.token, { userId: who.id });
    const sent = (await rest("POST", "/messages", adaAccount.token, { roomId: room.id, body: "Lunch at noon?" })).json;
    for (const token of [adaAccount.token, bobAccount.token]) {
      expect((await rest("PUT", `/messages/${sent.id}/reactions/${encodeURIComponent("👍")}`, token, {})).status).toBe(200);
    }
    expect((await rest("PUT", `/messages/${sent.id}/pin`, adaAccount.token, {})).status).toBe(200);
    await signIn(cara, stack.gateway.url, `/rooms/${room.id}`);
    const page = cara.page;
    const thumbs = message(page, "Lunch at noon?").locator('.reaction[data-emoji="👍"]');
    await thumbs.waitFor();

    // Long press: the touch rests on the chip until the sheet opens, then lifts.
    const box = (await thumbs.boundingBox())!;
    const cdp = await cara.context.newCDPSession(page);
    const point = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [point] });
    const sheet = page.getByRole("dialog", { name: "Reactions" });
    await sheet.waitFor();
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    const names = await sheet.locator('[data-testid="who-reacted"]').textContent();
    expect(names).toContain("Ada, Bob");
    for (const id of [adaAccount.id, bobAccount.id]) expect(names).not.toContain(id);
    await shootBoth(page, "who-reacted", ["phone"]);
    await page.setViewportSize(PHONE);
    await sheet.getByRole("button", { name: "Close" }).click();
    await sheet.waitFor({ state: "detached" });
    // The long press did not toggle a reaction of Cara's.
    expect(await thumbs.getAttribute("aria-pressed")).toBe("false");
    expect(await thumbs.locator(".reaction-count").textContent()).toBe("2");

    // By keyboard: Tab from the chip reaches "Who reacted"; Enter opens the same list.
    await thumbs.focus();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toContain("Who reacted");
    await page.keyboard.press("Enter");
    await sheet.waitFor();
    expect(await sheet.textContent()).toContain("Ada, Bob");
    await page.keyboard.press("Escape");
    await sheet.waitFor({ state: "detached" });

    // The Pinned panel on a phone: the whole screen, focus on its close button, back to the toggle.
    const toggle = page.getByRole("button", { name: "Show pinned messages" });
    await toggle.click();
    const panel = page.locator('[data-testid="pinned-panel"]');
    await panel.locator('[data-testid="pinned-item"]', { hasText: "Lunch at noon?" }).waitFor();
    expect(await panel.boundingBox()).toEqual({ x: 0, y: 0, width: PHONE.width, height: PHONE.height });
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe("Hide pinned messages");
    await shootBoth(page, "pinned-overlay", ["phone"]);
    await page.setViewportSize(PHONE);
    await panel.getByRole("button", { name: "Hide pinned messages" }).click();
    await panel.waitFor({ state: "detached" });
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe("Show pinned messages");
    // Opening a pinned message closes the overlay so that the message shows.
    await toggle.click();
    await panel.locator('[data-testid="pinned-item"]').first().click();
    await panel.waitFor({ state: "detached" });
    await page.locator(`[data-seq="${sent.seq}"][data-highlighted="true"]`).waitFor();
    expect(cara.errors.concat(ada.errors, bob.errors)).toEqual([]);
  }, 120_000);
});
