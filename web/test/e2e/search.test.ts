// Search in a browser (issue 17): a room with 160 messages seeded over REST; Ada searches from the
// sidebar for a word of message 3 (four pages back in the room's history): the results show the
// room, the sender and the snippet with the match marked, chips per room, newest or relevance; a
// private room of someone else's never shows; opening the result loads the room around message 3,
// scrolled to and highlighted; a thread reply opens the thread panel at the reply, highlighted;
// "Load more" follows the cursor. Ctrl+K opens the quick switcher: typed, arrows, Enter opens a room
// or a direct conversation with a person; Escape closes it and focus goes back. Screenshots at
// desktop and phone width.
import { describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { atFailure, eventually, openBrowserFor, screenshot, useBrowserStack } from "./harness";
import { composer, ok, register, signIn } from "./people";

const stack = useBrowserStack({ RATE_SEND_PER_10S_USER: "1000", RATE_SEND_PER_10S_ADDRESS: "1000" });
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

const hits = (page: Page) => page.getByTestId("search-hit");

describe("search in a browser", { timeout: 240_000 }, () => {
  it("finds an old message from the sidebar, opens it in context highlighted (a thread reply in its thread), pages with Load more, and the quick switcher opens a room and a conversation with the keyboard", async () => {
    const ada = await openBrowserFor(stack.browser, "Ada");
    const [adaAccount, bobAccount, cidAccount] = [
      await register(stack.rest, ada),
      await register(stack.rest, { ...ada, name: "Bob Stone", username: `bob${Date.now()}`, email: `bob${Date.now()}@example.com` }),
      await register(stack.rest, { ...ada, name: "Cid Moss", username: `cid${Date.now()}`, email: `cid${Date.now()}@example.com` }),
    ];
    const archive = await ok(stack.rest, "POST", "/rooms", adaAccount.token, { name: "archive", visibility: "private" });
    await ok(stack.rest, "POST", "/rooms", adaAccount.token, { name: "general", visibility: "private" });
    await ok(stack.rest, "POST", `/rooms/${archive.id}/members`, adaAccount.token, { userId: bobAccount.id });
    // Cid's private room has the word too: Ada never sees it.
    const secret = await ok(stack.rest, "POST", "/rooms", cidAccount.token, { name: "vault", visibility: "private" });
    await ok(stack.rest, "POST", "/messages", cidAccount.token, { roomId: secret.id, body: "zanzibar secret plans" });

    let target = 0;
    let root = "";
    for (let i = 1; i <= 160; i++) {
      const body = i === 3 ? "the zanzibar quarterly numbers are in, see the sheet" : `filler message number ${i}`;
      const sent = await ok(stack.rest, "POST", "/messages", i % 2 ? bobAccount.token : adaAccount.token, { roomId: archive.id, body });
      if (i === 3) target = sent.seq;
      if (i === 10) root = sent.id;
    }
    const reply = await ok(stack.rest, "POST", "/messages", bobAccount.token, { roomId: archive.id, body: "zanzibar travel notes, in the thread", threadRootId: root });

    await signIn(ada, stack.gateway.url);
    const { page } = ada;
    await page.setViewportSize(DESKTOP);

    // The sidebar's search box opens the search view.
    const box = page.getByRole("searchbox", { name: "Search messages" }).first();
    await box.fill("zanzibar");
    await box.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Search" }).waitFor();
    expect(page.url()).toContain("/search?q=zanzibar");
    await atFailure(page, "search-results-failed", async () => {
      await eventually(async () => expect(await hits(page).count()).toBe(2));
    });
    const old = hits(page).filter({ hasText: "quarterly numbers" });
    expect(await old.locator("mark").allTextContents()).toEqual(["zanzibar"]);
    expect(await old.textContent()).toContain("#archive");
    expect(await old.textContent()).toContain("Bob Stone");
    expect(await page.getByTestId("search-view").textContent()).not.toContain("secret");
    const chips = page.getByRole("group", { name: "Filter by room" });
    expect((await chips.getByRole("button").allTextContents()).map((t) => t.replace(/\s+/g, " ").trim())).toEqual(["All rooms (2)", "#archive (2)"]);
    await page.getByText("Search syntax").click();
    await page.getByTestId("search-help").getByText("from:@ada").waitFor();
    await screenshot(page, "search-01-results-desktop-light");
    await page.setViewportSize(PHONE);
    await screenshot(page, "search-01-results-phone-light");
    await page.setViewportSize(DESKTOP);
    await page.getByText("Search syntax").click();

    // Newest first: the thread reply, sent last, comes first.
    await page.getByRole("button", { name: "Newest" }).click();
    await eventually(async () => expect(await hits(page).first().textContent()).toContain("travel notes"));
    expect(page.url()).toContain("order=newest");

    // Message 3 is far back (50 of 160 load first): opened, the room loads it in and highlights it.
    await old.click();
    await page.getByRole("heading", { level: 1, name: "archive" }).waitFor();
    await atFailure(page, "search-open-failed", () => page.locator(`[data-seq="${target}"][data-highlighted="true"]`).waitFor({ timeout: 20_000 }));
    expect(await page.locator(`[data-seq="${target}"]`).textContent()).toContain("zanzibar quarterly numbers");
    await screenshot(page, "search-02-opened-desktop-light");

    // Back to the results (the query and order are in the URL); the reply opens its thread, highlighted.
    await page.goBack();
    await page.getByRole("heading", { level: 1, name: "Search" }).waitFor();
    expect(await page.getByRole("searchbox", { name: "Search messages" }).last().inputValue()).toBe("zanzibar");
    await hits(page).filter({ hasText: "travel notes" }).click();
    const panel = page.getByTestId("thread-panel");
    await atFailure(page, "search-thread-failed", () => panel.locator(`[data-seq="${reply.seq}"][data-highlighted="true"]`).waitFor({ timeout: 20_000 }));
    await screenshot(page, "search-03-thread-desktop-light");

    // Many results: 20 at a time, Load more follows the cursor.
    await page.goto(`${stack.gateway.url}/search?q=filler&order=newest`);
    await eventually(async () => expect(await hits(page).count()).toBe(20));
    expect(await hits(page).first().textContent()).toContain("filler message number 160");
    await page.getByTestId("search-more").click();
    await eventually(async () => expect(await hits(page).count()).toBe(40));
    expect(await hits(page).nth(20).textContent()).toContain("filler message number 140");
    // A bad query says what is wrong.
    const viewBox = page.getByRole("searchbox", { name: "Search messages" }).last();
    await viewBox.fill("has:video");
    await page.getByText(/has: takes link, file or image/).waitFor();
    await page.setViewportSize(PHONE);
    await viewBox.fill("zanzibar");
    await eventually(async () => expect(await hits(page).count()).toBe(2));
    await screenshot(page, "search-04-view-phone-light");
    await page.emulateMedia({ colorScheme: "dark" });
    await screenshot(page, "search-04-view-phone-dark");
    await page.setViewportSize(DESKTOP);
    await screenshot(page, "search-04-view-desktop-dark");
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize(DESKTOP);

    // Quick switcher: Ctrl+K, type, arrows, Enter opens the room.
    await page.goto(`${stack.gateway.url}/rooms/${archive.id}`);
    await page.getByRole("heading", { level: 1, name: "archive" }).waitFor();
    await composer(page).click();
    await page.keyboard.press("Control+k");
    const dialog = page.getByRole("dialog", { name: "Jump to" });
    const combo = dialog.getByRole("combobox", { name: "Jump to a room or person" });
    await combo.waitFor();
    expect(await combo.evaluate((el) => el === document.activeElement)).toBe(true);
    // Escape closes it, and focus goes back to the composer.
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    await eventually(async () => expect(await composer(page).evaluate((el) => el === document.activeElement)).toBe(true));

    await page.keyboard.press("Control+k");
    await combo.waitFor();
    await combo.pressSequentially("gen", { delay: 0 });
    const listbox = dialog.getByRole("listbox");
    await listbox.getByRole("option", { name: /general/ }).waitFor();
    await eventually(async () => expect(await listbox.getByRole("option").count()).toBe(1));
    expect(await combo.getAttribute("aria-activedescendant")).toBe(await listbox.getByRole("option").first().getAttribute("id"));
    await screenshot(page, "search-05-switcher-desktop-light");
    await combo.press("Enter");
    await page.getByRole("heading", { level: 1, name: "general" }).waitFor();
    await dialog.waitFor({ state: "detached" });

    // A person: the conversation with them opens (started if new); arrows move the active option.
    await page.keyboard.press("Control+k");
    await combo.waitFor();
    await combo.pressSequentially("Cid", { delay: 0 });
    const person = listbox.getByRole("option", { name: /Cid Moss/ });
    await person.waitFor();
    await combo.press("ArrowDown");
    await combo.press("ArrowUp");
    expect(await person.getAttribute("aria-selected")).toBe("true");
    await page.setViewportSize(PHONE);
    await screenshot(page, "search-05-switcher-phone-light");
    await combo.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Cid Moss" }).waitFor();
    await eventually(() => expect(ada.errors).toEqual([]));
  });
});
