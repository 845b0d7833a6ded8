// Reactions and emoji in a real browser, two people: Ada reacts from a message's action bar and
// the picker, Bob sees the count live and who reacted, adds his, Ada takes hers back; the
// composer's picker inserts an emoji; ":tada:" in a message shows as 🎉. Screenshots at desktop
// and phone width, light and dark.
import { beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { eventually, openBrowserFor, screenshot, useBrowserStack, watch, type Person } from "./harness";
import { login, ok, signUp, waitLive } from "./people";

const stack = useBrowserStack();
let ada: Person;
let bob: Person;
let roomPath = "";

beforeAll(async () => {
  ada = await openBrowserFor(stack.browser, "Ada");
  bob = await openBrowserFor(stack.browser, "Bob", { colorScheme: "dark" });
});

const chip = (page: Page, emoji: string) => page.locator(`.reaction[data-emoji="${emoji}"]`);

describe("reactions and emoji in a browser", { timeout: 90_000 }, () => {
  it("Ada reacts, Bob sees it live with who, adds his, Ada takes hers back; :tada: shows as an emoji", async () => {
    await signUp(ada, stack.gateway.url);
    const adaToken = await login(stack.rest, ada);
    await signUp(bob, stack.gateway.url);
    const bobToken = await login(stack.rest, bob);
    const room = await ok(stack.rest, "POST", "/rooms", adaToken, { name: "party", visibility: "public" });
    await ok(stack.rest, "POST", `/rooms/${room.id}/join`, bobToken);
    await ok(stack.rest, "POST", "/messages", adaToken, { roomId: room.id, body: "We shipped it :tada: (not `:tada:` in code)" });
    roomPath = `/rooms/${room.id}`;
    for (const person of [ada, bob]) {
      await person.page.goto(`${stack.gateway.url}${roomPath}`);
      await person.page.getByRole("heading", { level: 1, name: "party" }).waitFor();
      await waitLive(person.page);
    }
    const message = (page: Page) => page.locator('[data-testid="message"]').first();
    // The shortcode is the emoji in text, and stays literal in code.
    await expect.poll(() => message(bob.page).locator(".message-body .emoji").textContent()).toBe("🎉");
    expect(await message(bob.page).locator(".message-body code").textContent()).toBe(":tada:");

    // Ada: the action bar's "Add reaction", the picker, search, Enter picks the first match.
    await message(ada.page).hover();
    await message(ada.page).getByRole("button", { name: "Add reaction" }).click();
    const picker = ada.page.getByRole("dialog", { name: "Add reaction" });
    await picker.getByLabel("Search emoji").fill("thumbsup");
    await screenshot(ada.page, "reactions-01-picker-desktop-light");
    await picker.getByLabel("Search emoji").press("Enter");
    await expect.poll(() => picker.count()).toBe(0);
    await expect.poll(() => chip(ada.page, "👍").getAttribute("aria-pressed")).toBe("true");

    // Bob sees it live, and who reacted.
    await expect.poll(() => chip(bob.page, "👍").locator(".reaction-count").textContent()).toBe("1");
    expect(await chip(bob.page, "👍").getAttribute("aria-pressed")).toBe("false");
    await chip(bob.page, "👍").hover();
    expect(await chip(bob.page, "👍").getAttribute("title")).toContain("Ada");
    // Bob toggles the same emoji: two.
    await chip(bob.page, "👍").click();
    await expect.poll(() => chip(bob.page, "👍").locator(".reaction-count").textContent()).toBe("2");
    await expect.poll(() => chip(ada.page, "👍").locator(".reaction-count").textContent()).toBe("2");
    expect(await chip(ada.page, "👍").getAttribute("title")).toMatch(/you, Bob|Bob/);
    await screenshot(bob.page, "reactions-02-chips-desktop-dark");
    await screenshot(ada.page, "reactions-03-chips-desktop-light");
    // Ada takes hers back.
    await chip(ada.page, "👍").click();
    await expect.poll(() => chip(bob.page, "👍").locator(".reaction-count").textContent()).toBe("1");
    expect(await chip(bob.page, "👍").getAttribute("aria-pressed")).toBe("true");
    expect(await chip(ada.page, "👍").getAttribute("aria-pressed")).toBe("false");
    const stored = await ok(stack.rest, "GET", `/messages/${room.id}`, adaToken);
    expect(stored.messages[0].reactions).toEqual([{ emoji: "👍", count: 1, userIds: [expect.any(String)] }]);
  });

  it("the composer's picker inserts an emoji where the caret is, with a skin tone, and remembers it as recently used", async () => {
    const page = bob.page;
    const box = page.getByRole("textbox", { name: /^Message / });
    await box.fill("Launch ");
    await page.getByRole("button", { name: "Insert emoji" }).click();
    const picker = page.getByRole("dialog", { name: "Insert emoji" });
    await picker.getByLabel("Search emoji").fill("rocket");
    await picker.locator('button[data-name="rocket"]').click();
    await expect.poll(() => box.inputValue()).toBe("Launch 🚀");
    // A skin tone applies to emoji that take one.
    await page.getByRole("button", { name: "Insert emoji" }).click();
    await picker.getByLabel("Skin tone").selectOption({ label: "✋🏽 Medium" });
    await picker.getByLabel("Search emoji").fill("wave");
    await picker.locator('button[data-name="wave"]').click();
    await expect.poll(() => box.inputValue()).toBe("Launch 🚀👋🏽");
    await page.getByRole("button", { name: "Insert emoji" }).click();
    await expect.poll(() => picker.getByRole("group", { name: "Recently used" }).getByRole("button").count()).toBe(2);
    await screenshot(page, "reactions-04-composer-picker-desktop-dark");
    await picker.getByLabel("Search emoji").press("Escape");
    await expect.poll(() => picker.count()).toBe(0);
    await box.press("Enter");
    await eventually(async () => expect(await ada.page.locator('[data-testid="message"]').nth(1).textContent()).toContain("🚀👋🏽"));
  });

  it("on a phone (touch, no hover) the action bar is there, light and dark", async () => {
    for (const colorScheme of ["light", "dark"] as const) {
      const phone = await stack.browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme, isMobile: true, hasTouch: true });
      const watcher = { dialogs: [] as string[], errors: [] as string[] };
      try {
        const page = await phone.newPage();
        watch(watcher, page);
        await page.goto(`${stack.gateway.url}/signin`);
        await page.getByLabel("Email or username").fill(ada.username);
        await page.getByLabel("Password").fill(ada.password);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("navigation", { name: "Rooms and conversations" }).waitFor({ state: "attached" });
        await page.goto(`${stack.gateway.url}${roomPath}`);
        await page.getByRole("heading", { level: 1, name: "party" }).waitFor();
        const first = page.locator('[data-testid="message"]').first();
        const react = first.getByRole("button", { name: "Add reaction" });
        await expect.poll(() => react.evaluate((b) => getComputedStyle(b.parentElement!).opacity)).toBe("1");
        await react.tap();
        await page.getByRole("dialog", { name: "Add reaction" }).getByLabel("Search emoji").fill("heart");
        await screenshot(page, `reactions-05-phone-picker-${colorScheme}`);
        await page.getByRole("dialog", { name: "Add reaction" }).locator('button[data-name="heart"]').tap();
        await expect.poll(() => chip(page, "❤️").getAttribute("aria-pressed")).toBe("true");
        await screenshot(page, `reactions-06-phone-chips-${colorScheme}`);
        await chip(page, "❤️").tap(); // and off again, for the next pass
        await expect.poll(() => chip(page, "❤️").count()).toBe(0);
        expect(watcher.errors).toEqual([]);
      } finally {
        await phone.close();
      }
    }
    expect(ada.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  });
});
