// Pins in a browser (issue 16): Ada owns a room, Bob is a plain member. Ada pins a message from its
// action bar; Bob, with the Pinned panel open, sees it arrive live, and the Pinned marker on the
// message. Bob has no Pin action, and the API refuses him 403. Screenshots desktop + phone, light + dark.
import { describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { eventually, openBrowserFor, screenshot, useBrowserStack, type Person } from "./harness";
import { messageRow, register, signIn } from "./people";

const stack = useBrowserStack();

describe("pins in the browser", () => {
  it("an admin pins, a member sees it live in the Pinned list; a member without permission has no Pin action and gets 403", async () => {
    const ada = await openBrowserFor(stack.browser, "Ada");
    const bob = await openBrowserFor(stack.browser, "Bob");
    const adaAccount = await register(stack.rest, ada);
    const bobAccount = await register(stack.rest, bob);
    const room = (await stack.rest("POST", "/rooms", adaAccount.token, { name: "pinboard", visibility: "private" })).json;
    await stack.rest("POST", `/rooms/${room.id}/members`, adaAccount.token, { userId: bobAccount.id });
    const first = (await stack.rest("POST", "/messages", bobAccount.token, { roomId: room.id, body: "The release is on Friday" })).json;
    await stack.rest("POST", "/messages", adaAccount.token, { roomId: room.id, body: "Noted, thanks" });
    const path = `/rooms/${room.id}`;
    await signIn(ada, stack.gateway.url, path);
    await signIn(bob, stack.gateway.url, path);

    // Bob opens the (empty) Pinned panel.
    await bob.page.getByRole("button", { name: "Show pinned messages" }).click();
    await bob.page.getByText("No pinned messages yet.").waitFor();

    // Ada pins Bob's message from its action bar.
    const target = messageRow(ada.page, "The release is on Friday");
    await target.hover();
    await target.getByRole("button", { name: "Pin message" }).click();
    await target.locator('[data-testid="pinned-marker"]').waitFor();

    // Bob sees it live: in the list and on the message.
    await bob.page.locator('[data-testid="pinned-item"]', { hasText: "The release is on Friday" }).waitFor();
    await messageRow(bob.page, "The release is on Friday").locator('[data-testid="pinned-marker"]').waitFor();
    await bob.page.locator('[data-testid="pinned-item"]').first().click();

    // Bob, a plain member, has no Pin action; the API refuses him.
    const bobs = messageRow(bob.page, "Noted, thanks");
    await bobs.hover();
    expect(await bobs.getByRole("button", { name: /Pin message|Unpin message/ }).count()).toBe(0);
    expect((await stack.rest("PUT", `/messages/${first.id}/pin`, bobAccount.token, {})).status).toBe(403);
    expect((await stack.rest("DELETE", `/messages/${first.id}/pin`, bobAccount.token)).status).toBe(403);

    for (const scheme of ["light", "dark"] as const) {
      await bob.page.emulateMedia({ colorScheme: scheme });
      await bob.page.setViewportSize({ width: 1280, height: 800 });
      await screenshot(bob.page, `pins-desktop-${scheme}`);
      await bob.page.setViewportSize({ width: 390, height: 844 });
      await screenshot(bob.page, `pins-phone-${scheme}`);
    }
    await eventually(() => expect(ada.errors.concat(bob.errors)).toEqual([]));
  }, 120_000);
});
