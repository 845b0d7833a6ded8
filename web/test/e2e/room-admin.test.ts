// Issue 16, the web fixes a new user hit, in a browser with three people: the Room-not-found
// page (private room, unknown id, malformed id); the badge says Offline while the network is
// gone and Live at once when it is back; presence of someone who joined after you connected;
// the owner tag others see; the members panel on a phone; every sign-up field error at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import type { TestParley } from "@parley/launch/testing";
import { eventually, openBrowserFor, screenshot, startBrowserStack, type BrowserStack, type Gateway, type Person } from "./harness";

let stack: BrowserStack | undefined;
let gateway: Gateway;
let parley: TestParley;
let browser: Browser;

beforeAll(async () => {
  stack = await startBrowserStack();
  ({ gateway, parley, browser } = stack);
}, 180_000);

afterAll(async () => {
  await stack?.stop();
}, 60_000);

async function rest(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`http://${parley!.addresses.edge}/api/v1${path}`, {
    method,
    headers: { ...(body !== undefined && { "content-type": "application/json" }), ...(token && { authorization: `Bearer ${token}` }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

async function register(person: Person): Promise<string> {
  const { status, json } = await rest("POST", "/auth/register", undefined, { email: person.email, username: person.username, password: person.password, displayName: person.name });
  expect(status, JSON.stringify(json)).toBe(201);
  return (json as { accessToken: string }).accessToken;
}

async function signIn(person: Person): Promise<void> {
  const { page } = person;
  await page.goto(`${gateway!.url}/signin`);
  await page.getByLabel("Email or username").fill(person.username);
  await page.getByLabel("Password").fill(person.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Rooms and conversations" }).waitFor();
  await waitLive(page);
}

const badge = (page: Page) => page.locator('[data-testid="connection"]');
async function waitLive(page: Page): Promise<void> {
  await page.locator('[data-testid="connection"][data-state="live"]').waitFor({ state: "attached", timeout: 30_000 });
}

async function atFailure(page: Page, name: string, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (error) {
    await screenshot(page, name).catch(() => undefined);
    throw error;
  }
}

describe("running a room: the web fixes", { timeout: 180_000 }, () => {
  it("shows the Room-not-found page for a private room one is not in, an unknown id and a malformed id", async () => {
    const ada = await openBrowserFor(browser!, "Ada");
    const bob = await openBrowserFor(browser!, "Bob");
    const adaToken = await register(ada);
    await register(bob);
    const secret = await rest("POST", "/rooms", adaToken, { name: "secret", visibility: "private" });
    expect(secret.status).toBe(201);
    const secretId = (secret.json as { id: string }).id;
    await ada.context.close();

    await signIn(bob);
    const { page } = bob;
    for (const [id, name] of [
      [secretId, "private"],
      ["00000000-0000-4000-8000-000000000000", "unknown"],
      ["not-a-uuid", "malformed"],
    ] as const) {
      await page.goto(`${gateway!.url}/rooms/${id}`);
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
    const cat = await openBrowserFor(browser!, "Cat");
    await register(cat);
    await signIn(cat);
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
    expect(await here.textContent()).toContain("Chrome on Linux");
    expect(await here.textContent()).toContain("last used");
    await screenshot(page, "room-admin-08-sessions");
    await cat.context.close();
  });

  it("shows a member who joined after you connected online, with the owner tag others see, and the members panel on a phone", async () => {
    const ada = await openBrowserFor(browser!, "Ada");
    const bob = await openBrowserFor(browser!, "Bob", { colorScheme: "dark" });
    const adaToken = await register(ada);
    const bobToken = await register(bob);
    // Bob is online in a room of his own before he joins Ada's: his overall presence does not change when he joins.
    expect((await rest("POST", "/rooms", bobToken, { name: "bobs-place", visibility: "public" })).status).toBe(201);
    const room = await rest("POST", "/rooms", adaToken, { name: "lobby", visibility: "public" });
    expect(room.status).toBe(201);
    const roomId = (room.json as { id: string }).id;

    // Ada is connected with the room's members open; Bob joins only afterwards.
    await signIn(ada);
    await ada.page.goto(`${gateway!.url}/rooms/${roomId}`);
    await ada.page.getByRole("heading", { level: 1, name: "lobby" }).waitFor();
    const adaMembers = ada.page.locator("aside.members");
    await adaMembers.waitFor();
    await signIn(bob);
    await bob.page.goto(`${gateway!.url}/rooms/${roomId}`);
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
    gateway!.cut();
    await atFailure(ada.page, "room-admin-outage-failed", async () => {
      await ada.page.locator('[data-testid="connection"]:not([data-state="live"])').waitFor({ timeout: 30_000 });
      await eventually(async () => expect(await bobRow.getAttribute("data-presence")).toBe("offline"), 5_000, "Bob no longer shown online");
    });
    gateway!.restore();
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
    const dan = await openBrowserFor(browser!, "Dan", { viewport: { width: 390, height: 800 } });
    const { page } = dan;
    await page.goto(`${gateway!.url}/signup`);
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
