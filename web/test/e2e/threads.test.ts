// Threads in a browser (issue 16): Ada, Bob and Cai in a room. Bob replies in a thread from Ada's
// message; Ada sees the root's reply count and avatars change live and the thread unread in her
// Threads view, which clears once she reads it. A reply also sent to the room shows in the room's
// timeline; one that is not does not. Cai follows and unfollows. Screenshots desktop + phone, light + dark.
import { describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { eventually, openBrowserFor, screenshot, useBrowserStack } from "./harness";
import { register, signIn } from "./people";

const stack = useBrowserStack();

const panel = (page: Page) => page.locator('[data-testid="thread-panel"]');

describe("threads in the browser", () => {
  it("replies in a thread, the root's summary updates live, also-send-to-room, follow/unfollow, and the Threads view's unread indicator clears after reading", async () => {
    const { rest, browser } = stack;
    const ada = await openBrowserFor(browser, "Ada");
    const bob = await openBrowserFor(browser, "Bob");
    const cai = await openBrowserFor(browser, "Cai");
    const adaAccount = await register(rest, ada);
    const bobAccount = await register(rest, bob);
    const caiAccount = await register(rest, cai);
    const room = (await rest("POST", "/rooms", adaAccount.token, { name: "planning", visibility: "private" })).json;
    for (const account of [bobAccount, caiAccount]) await rest("POST", `/rooms/${room.id}/members`, adaAccount.token, { userId: account.id });
    await rest("POST", "/messages", adaAccount.token, { roomId: room.id, body: "Who takes the release notes?" });
    await rest("POST", "/messages", caiAccount.token, { roomId: room.id, body: "Standup moved to 10:00" });
    const path = `/rooms/${room.id}`;
    await signIn(ada, stack.gateway.url, path);
    await signIn(bob, stack.gateway.url, path);
    await signIn(cai, stack.gateway.url, path);

    // Bob opens the thread from the message's action bar and replies.
    const root = bob.page.locator('[data-testid="message"]', { hasText: "Who takes the release notes?" }).first();
    await root.hover();
    await root.getByRole("button", { name: "Reply in thread" }).click();
    await panel(bob.page).waitFor();
    await panel(bob.page).getByLabel("Reply in thread").fill("I can take them");
    await panel(bob.page).getByLabel("Reply in thread").press("Enter");
    await panel(bob.page).locator('[data-testid="thread-reply"]', { hasText: "I can take them" }).waitFor();
    await expect.poll(() => panel(bob.page).getByTestId("thread-follow").textContent()).toBe("Following");

    // Ada sees the root's summary live; the reply is not in the room's timeline.
    const adaRoot = ada.page.locator('[data-testid="message"]', { hasText: "Who takes the release notes?" }).first();
    await adaRoot.locator('[data-testid="thread-count"]', { hasText: "1 reply" }).waitFor();
    expect(await ada.page.locator('[data-testid="message"]', { hasText: "I can take them" }).count()).toBe(0);
    // Her Threads view shows it unread (she started it).
    await ada.page.locator('[data-testid="threads-badge"]', { hasText: "1" }).waitFor();

    // A reply also sent to the room shows in the room's timeline, and the count moves to 2.
    await panel(bob.page).getByTestId("also-send").check();
    await panel(bob.page).getByLabel("Reply in thread").fill("Draft by Thursday");
    await panel(bob.page).getByLabel("Reply in thread").press("Enter");
    await ada.page.locator('[data-testid="message"]', { hasText: "Draft by Thursday" }).first().waitFor();
    await adaRoot.locator('[data-testid="thread-count"]', { hasText: "2 replies" }).waitFor();

    // Cai follows the thread from the panel, then unfollows it.
    const caiRoot = cai.page.locator('[data-testid="message"]', { hasText: "Who takes the release notes?" }).first();
    await caiRoot.locator('[data-testid="thread-summary"]').click();
    await panel(cai.page).locator('[data-testid="thread-reply"]').nth(1).waitFor();
    await panel(cai.page).getByRole("button", { name: "Follow", exact: true }).click();
    await panel(cai.page).getByRole("button", { name: "Following" }).waitFor();
    await eventually(async () => {
      const list = (await rest("GET", "/threads", caiAccount.token)).json;
      expect(list.threads.map((t: { root: { body: string } }) => t.root.body)).toEqual(["Who takes the release notes?"]);
    });
    await panel(cai.page).getByRole("button", { name: "Following" }).click();
    await panel(cai.page).getByRole("button", { name: "Follow", exact: true }).waitFor();
    await eventually(async () => expect((await rest("GET", "/threads", caiAccount.token)).json.threads).toEqual([]));

    // Ada: the Threads view lists the thread with its unread indicator; reading it clears both.
    await ada.page.getByTestId("threads-link").click();
    const item = ada.page.locator('[data-testid="thread-item"]', { hasText: "Who takes the release notes?" });
    await item.locator('[data-testid="thread-unread"]', { hasText: "2 new" }).waitFor();
    for (const scheme of ["light", "dark"] as const) {
      await ada.page.emulateMedia({ colorScheme: scheme });
      await screenshot(ada.page, `threads-view-desktop-${scheme}`);
    }
    await ada.page.emulateMedia({ colorScheme: "light" });
    await item.click();
    await panel(ada.page).locator('[data-testid="thread-reply"]', { hasText: "Draft by Thursday" }).waitFor();
    await ada.page.locator('[data-testid="threads-badge"]').waitFor({ state: "detached" });
    await ada.page.getByTestId("threads-link").click();
    await ada.page.locator('[data-testid="thread-item"][data-unread="false"]', { hasText: "Who takes the release notes?" }).waitFor();

    // Screenshots: Bob's room with the thread open, desktop and phone, light and dark.
    for (const scheme of ["light", "dark"] as const) {
      await bob.page.emulateMedia({ colorScheme: scheme });
      await bob.page.setViewportSize({ width: 1280, height: 800 });
      await screenshot(bob.page, `threads-desktop-${scheme}`);
      await bob.page.setViewportSize({ width: 390, height: 844 });
      await screenshot(bob.page, `threads-phone-${scheme}`);
    }
    await eventually(() => expect(ada.errors.concat(bob.errors, cai.errors)).toEqual([]));
  }, 180_000);
});
