// Issue 16, the web fixes a new user hit, in a browser with three people: the Room-not-found
// page (private room, unknown id, malformed id); the badge says Offline while the network is
// gone and Live at once when it is back; presence of someone who joined after you connected;
// the owner tag others see; the members panel on a phone; every sign-up field error at once.
import { describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { atFailure, eventually, openBrowserFor, screenshot, useBrowserStack, type Gateway } from "./harness";
import { register, signIn, waitLive } from "./people";

const stack = useBrowserStack();

const badge = (page: Page) => page.locator('[data-testid="connection"]');

describe("running a room: the web fixes", { timeout: 180_000 }, () => {
  it("shows the Room-not-found page for a private room one is not in, an unknown id and a malformed id", async () => {
    const ada = await openBrowserFor(stack.browser, "Ada");
    const bob = await openBrowserFor(stack.browser, "Bob");
    const { token: adaToken } = await register(stack.rest, ada);
    await register(stack.rest, bob);
    const secret = await stack.rest("POST", "/rooms", adaToken, { name: "secret", visibility: "private" });
    expect(secret.status).toBe(201);
    const secretId = (secret.json as { id: string }).id;
    await ada.context.close();

    await signIn(bob, stack.gateway.url);
    const { page } = bob;
    for (const [id, name] of [
      [secretId, "private"],
      ["00000000-0000-4000-8000-000000000000", "unknown"],
      ["not-a-uuid", "malformed"],
    ] as const) {
      await page.goto(`${stack.gateway.url}/rooms/${id}`);
      await atFailure(page, `room-admin-not-found-${name}-failed`, () => page.getByTestId("room-not-found").waitFor());
      expect(await page.getByRole("heading", { level: 1 }).first().textContent()).toBe("Room not found");
      expect(await page.getByText("Something went wrong").count()).toBe(0);
      expect(await page.getByText("must be a UUID").count()).toBe(0);
    }
    await screenshot(page, "room-admin-01-not-found");
    expect(bob.errors).toEqual([]);
    await bob.context.close();
  });

  it("says Offline while the browser's network is gone and Live as soon as it is back", async () => {
    const cat = await openBrowserFor(stack.browser, "Cat");
    await register(stack.rest, cat);
    await signIn(cat, stack.gateway.url);
    const { page } = cat;
    await cat.context.setOffline(true);
    await atFailure(page, "room-admin-offline-failed", async () => {
      await page.locator('[data-testid="connection"][data-shown="offline"]').waitFor({ timeout: 5_000 });
      expect(await badge(page).textContent()).toContain("Offline");
    });
    await screenshot(page, "room-admin-02-offline");
    const backAt = Date.now();
    await cat.context.setOffline(false);
    await waitLive(page);
    // At once, not after the backoff (up to 8 s).
    expect(Date.now() - backAt).toBeLessThan(5_000);
    expect(await badge(page).textContent()).toContain("Live");

    // Her sessions, in the profile dialog: this one marked, with its browser and address.
    await page.getByRole("button", { name: /^Your profile/ }).click();
    const sessions = page.getByTestId("sessions");
    await sessions.locator(".session").first().waitFor();
    const here = sessions.locator('.session[data-current="true"]');
    expect(await here.count()).toBe(1);
    expect(await here.textContent()).toContain("this device");
    // ua-parser-js names this browser as it is: headless Chromium says "Chrome Headless".
    expect(await here.textContent()).toMatch(/Chrome( Headless)? on Linux/);
    expect(await here.textContent()).toContain("last used");
    await screenshot(page, "room-admin-08-sessions");
    await cat.context.close();
  });

  it("shows a member who joined after you connected online, with the owner tag others see, and the members panel on a phone", async () => {
    const ada = await openBrowserFor(stack.browser, "Ada");
    const bob = await openBrowserFor(stack.browser, "Bob", { colorScheme: "dark" });
    const { token: adaToken } = await register(stack.rest, ada);
    const { token: bobToken } = await register(stack.rest, bob);
    // Bob is online in a room of his own before he joins Ada's: his overall presence does not change when he joins.
    expect((await stack.rest("POST", "/rooms", bobToken, { name: "bobs-place", visibility: "public" })).status).toBe(201);
    const room = await stack.rest("POST", "/rooms", adaToken, { name: "lobby", visibility: "public" });
    expect(room.status).toBe(201);
    const roomId = (room.json as { id: string }).id;

    // Ada is connected with the room's members open; Bob joins only afterwards.
    await signIn(ada, stack.gateway.url);
    await ada.page.goto(`${stack.gateway.url}/rooms/${roomId}`);
    await ada.page.getByRole("heading", { level: 1, name: "lobby" }).waitFor();
    const adaMembers = ada.page.locator("aside.members");
    await adaMembers.waitFor();
    await signIn(bob, stack.gateway.url);
    await bob.page.goto(`${stack.gateway.url}/rooms/${roomId}`);
    await bob.page.getByRole("button", { name: "Join room" }).click();
    await bob.page.locator(".composer textarea, .composer [contenteditable]").first().waitFor();

    // At once, not at the next presence sweep (every 15 s), which was all that ever fixed it.
    const bobRow = adaMembers.locator(".member", { hasText: "Bob" });
    await atFailure(ada.page, "room-admin-presence-failed", () =>
      eventually(async () => expect(await bobRow.getAttribute("data-presence")).toBe("online"), 4_000, "Bob online in Ada's member list"),
    );
    await screenshot(ada.page, "room-admin-03-presence-desktop-light");

    // Bob sees Ada's owner tag whole, beside her name.
    const bobMembers = bob.page.locator("aside.members");
    await bobMembers.waitFor();
    const tag = bobMembers.locator(".member", { hasText: "Ada" }).locator(".role-tag");
    expect((await tag.textContent())?.trim()).toBe("owner");
    const box = await tag.boundingBox();
    const list = await bobMembers.boundingBox();
    expect(box && list && box.width > 20 && box.x + box.width <= list.x + list.width).toBe(true);
    await screenshot(bob.page, "room-admin-04-owner-tag-desktop-dark");

    // During an outage nobody shows online in Ada's list.
    stack.gateway.cut();
    await atFailure(ada.page, "room-admin-outage-failed", async () => {
      await ada.page.locator('[data-testid="connection"]:not([data-state="live"])').waitFor({ timeout: 30_000 });
      await eventually(async () => expect(await bobRow.getAttribute("data-presence")).toBe("offline"), 5_000, "Bob no longer shown online");
    });
    stack.gateway.restore();
    await waitLive(ada.page);
    await eventually(async () => expect(await bobRow.getAttribute("data-presence")).toBe("online"), 15_000, "Bob online again");

    // On a phone: the members panel starts closed, opens full screen with a close button.
    for (const [person, scheme] of [
      [ada, "light"],
      [bob, "dark"],
    ] as const) {
      await person.page.setViewportSize({ width: 390, height: 800 });
      await person.page.reload();
      await person.page.getByRole("heading", { level: 1, name: "lobby" }).waitFor();
      await waitLive(person.page);
      expect(await person.page.locator("aside.members").count()).toBe(0);
      await screenshot(person.page, `room-admin-05-phone-${scheme}`);
      await person.page.getByRole("button", { name: "Show members" }).click();
      const panel = await person.page.locator("aside.members").boundingBox();
      expect(panel?.width).toBe(390);
      await screenshot(person.page, `room-admin-06-phone-members-${scheme}`);
      await person.page.locator("aside.members").getByRole("button", { name: "Hide members" }).click();
      expect(await person.page.locator("aside.members").count()).toBe(0);
    }
    // The sidebar keeps its theme button in view, whatever the badge says.
    expect(ada.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
    await ada.context.close();
    await bob.context.close();
  });

  it("shows every sign-up field error at once, each linked to its field", async () => {
    const dan = await openBrowserFor(stack.browser, "Dan", { viewport: { width: 390, height: 800 } });
    const { page } = dan;
    await page.goto(`${stack.gateway.url}/signup`);
    await page.getByLabel("Email").fill("not an email");
    await page.getByLabel("Username").fill("a");
    await page.getByLabel("Password").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    for (const field of ["email", "username", "password"]) {
      await page.getByTestId(`${field}-error`).waitFor();
      const input = page.locator(`input[name="${field}"]`);
      expect(await input.getAttribute("aria-describedby")).toContain(`${field}-error`);
      expect(await input.getAttribute("aria-invalid")).toBe("true");
    }
    await screenshot(page, "room-admin-07-signup-errors-phone");
    await dan.context.close();
  });
});
