// Mentions in a browser (issue 16), three people in a room: Bob types "@" and picks Ada from the
// composer's list with the keyboard; Ada, reading another room, gets an @ badge on the room beside
// its unread count, sees the mention of her highlighted more than Bob's mention of Cid, and the
// badge clears once she has read it; the Mentions view lists it and opens its room. With @room and
// @here kept to admins in the room's settings, Cid (a plain member) is refused. Screenshots at
// desktop and phone width, light and dark.
import { describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { atFailure, eventually, openBrowserFor, screenshot, useBrowserStack } from "./harness";
import { composer, messageRow, ok, register, send, signIn } from "./people";

const stack = useBrowserStack();

const roomLink = (page: Page, name: string) => page.locator(`a.room-link[data-room-name="${name}"]`);

describe("mentions in a browser", { timeout: 180_000 }, () => {
  it("autocompletes @username, highlights one's own mention more, counts it in the sidebar until read, lists it in Mentions, and keeps @room to admins when the room says so", async () => {
    const ada = await openBrowserFor(stack.browser, "Ada");
    const bob = await openBrowserFor(stack.browser, "Bob", { colorScheme: "dark" });
    const cid = await openBrowserFor(stack.browser, "Cid");
    const [adaAccount, bobAccount, cidAccount] = [await register(stack.rest, ada), await register(stack.rest, bob), await register(stack.rest, cid)];
    const room = await ok(stack.rest, "POST", "/rooms", adaAccount.token, { name: "launch", visibility: "private" });
    await ok(stack.rest, "POST", "/rooms", adaAccount.token, { name: "elsewhere", visibility: "private" });
    for (const account of [bobAccount, cidAccount]) await ok(stack.rest, "POST", `/rooms/${room.id}/members`, adaAccount.token, { userId: account.id });
    const path = `/rooms/${room.id}`;
    await signIn(ada, stack.gateway.url);
    await signIn(bob, stack.gateway.url, path);
    await signIn(cid, stack.gateway.url, path);
    // Ada reads another room meanwhile.
    await roomLink(ada.page, "elsewhere").click();
    await ada.page.getByRole("heading", { level: 1, name: "elsewhere" }).waitFor();

    // Bob: "@" and the first letters list the room's people; arrows and Enter pick one.
    const box = composer(bob.page);
    await box.click();
    await box.pressSequentially(`@${ada.username.slice(0, 3)}`, { delay: 0 });
    const listbox = bob.page.getByRole("listbox", { name: "People to mention" });
    await listbox.getByRole("option", { name: new RegExp(ada.name) }).waitFor();
    expect(await box.getAttribute("aria-controls")).toBe(await listbox.getAttribute("id"));
    const active = await box.getAttribute("aria-activedescendant");
    expect(await listbox.locator(`[id="${active}"]`).getAttribute("aria-selected")).toBe("true");
    await screenshot(bob.page, "mentions-01-autocomplete-desktop-dark");
    await box.press("Enter");
    await expect.poll(() => listbox.count()).toBe(0);
    expect(await box.inputValue()).toBe(`@${ada.username} `);
    await box.pressSequentially(`can you check the release notes? And @${cid.username} the build`, { delay: 0 });
    await box.press("Escape"); // the list (open for @cid…) closes; the text stays
    expect(await box.inputValue()).toContain(`@${cid.username} the build`);
    await box.press("Enter");
    await messageRow(bob.page, "release notes").waitFor();

    // Ada: an @ badge on #launch beside its unread count.
    const badge = roomLink(ada.page, "launch").getByTestId("mention-badge");
    await atFailure(ada.page, "mentions-badge-failed", () => badge.waitFor());
    expect((await badge.textContent())?.replace(/\s+/g, " ")).toContain("@1");
    await screenshot(ada.page, "mentions-02-sidebar-badge-desktop-light");

    // Her mention is highlighted more than the other one; the row too.
    await roomLink(ada.page, "launch").click();
    const message = messageRow(ada.page, "release notes");
    await message.waitFor();
    await expect.poll(() => message.locator(".mention-me").textContent()).toBe(`@${ada.username}`);
    expect(await message.locator(".mention:not(.mention-me)").textContent()).toBe(`@${cid.username}`);
    expect(await message.getAttribute("class")).toContain("mentions-me");
    // Read: the badge is gone (the server's count, after a reload, too).
    await eventually(async () => expect(await badge.count()).toBe(0), 10_000, "the mention badge to clear");
    await ada.page.reload();
    await roomLink(ada.page, "launch").waitFor();
    expect(await badge.count()).toBe(0);
    await screenshot(ada.page, "mentions-03-highlight-desktop-light");

    // Cid sees his mention highlighted as his own.
    await expect.poll(() => messageRow(cid.page, "release notes").locator(".mention-me").textContent()).toBe(`@${cid.username}`);

    // The Mentions view lists it and opens its room.
    await roomLink(ada.page, "elsewhere").click();
    await ada.page.getByRole("heading", { level: 1, name: "elsewhere" }).waitFor();
    await ada.page.getByTestId("open-mentions").click();
    const view = ada.page.getByRole("dialog", { name: "Mentions" });
    const item = view.getByTestId("mention-item").filter({ hasText: "release notes" });
    await item.waitFor();
    await screenshot(ada.page, "mentions-04-view-desktop-light");
    await item.click();
    await ada.page.getByRole("heading", { level: 1, name: "launch" }).waitFor();

    // Ada keeps @room and @here to admins in the room's settings; Cid is refused, with the reason.
    await ada.page.getByRole("button", { name: "Room settings" }).click();
    const settings = ada.page.getByRole("dialog", { name: /settings$/ });
    const rule = settings.getByRole("switch", { name: "Members may use @room and @here" });
    expect(await rule.isChecked()).toBe(true);
    await rule.click();
    await eventually(async () => expect((await stack.rest("GET", `/rooms/${room.id}`, adaAccount.token)).json.membersCanMentionEveryone).toBe(false));
    await settings.getByRole("button", { name: "Close" }).click();
    const refused = await stack.rest("POST", "/messages", cidAccount.token, { roomId: room.id, body: "@room lunch?" });
    expect(refused.status).toBe(403);
    expect(refused.json.message ?? refused.json.error?.message ?? JSON.stringify(refused.json)).toContain("@room");
    await send(cid.page, "@here anyone?");
    await atFailure(cid.page, "mentions-refused-failed", () => cid.page.getByText(/only the room's admins can use @room and @here/i).first().waitFor());
    await screenshot(cid.page, "mentions-05-refused-desktop-light");
    // An admin still may.
    expect((await stack.rest("POST", "/messages", adaAccount.token, { roomId: room.id, body: "@room lunch at noon" })).status).toBe(201);
    await expect.poll(() => messageRow(bob.page, "lunch at noon").locator(".mention-me").textContent()).toBe("@room");

    for (const scheme of ["light", "dark"] as const) {
      await bob.page.emulateMedia({ colorScheme: scheme });
      await bob.page.setViewportSize({ width: 1280, height: 800 });
      await screenshot(bob.page, `mentions-06-room-desktop-${scheme}`);
      await bob.page.setViewportSize({ width: 390, height: 844 });
      await screenshot(bob.page, `mentions-06-room-phone-${scheme}`);
    }
    await eventually(() => expect([...ada.errors, ...bob.errors]).toEqual([]));
  });
});
