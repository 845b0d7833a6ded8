// Pins in a browser (issue 16): Ada owns a room, Bob is a plain member. Ada pins a message from its
// action bar; Bob, with the Pinned panel open, sees it arrive live, and the Pinned marker on the
// message. Bob has no Pin action, and the API refuses him 403. Screenshots desktop + phone, light + dark.
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

async function rest(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`http://${parley!.addresses.edge}/api/v1${path}`, {
    method,
    headers: { ...(body !== undefined && { "content-type": "application/json" }), ...(token && { authorization: `Bearer ${token}` }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

async function register(person: Person): Promise<{ token: string; id: string }> {
  const { status, json } = await rest("POST", "/auth/register", undefined, {
    email: person.email,
    username: person.username,
    password: person.password,
    displayName: person.name,
  });
  expect(status, JSON.stringify(json)).toBe(201);
  return { token: json.accessToken, id: json.user.id };
}

async function signIn(person: Person, path: string): Promise<void> {
  const { page } = person;
  await page.goto(`${gateway!.url}/signin`);
  await page.getByLabel("Email or username").fill(person.username);
  await page.getByLabel("Password").fill(person.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Rooms and conversations" }).waitFor();
  await page.locator('[data-testid="connection"][data-state="live"]').waitFor({ timeout: 30_000 });
  await page.goto(`${gateway!.url}${path}`);
  await page.locator('[data-testid="connection"][data-state="live"]').waitFor({ timeout: 30_000 });
}

const message = (page: Page, text: string) => page.locator('[data-testid="message"]', { hasText: text });

describe("pins in the browser", () => {
  it("an admin pins, a member sees it live in the Pinned list; a member without permission has no Pin action and gets 403", async () => {
    const ada = await openBrowserFor(browser, "Ada");
    const bob = await openBrowserFor(browser, "Bob");
    const adaAccount = await register(ada);
    const bobAccount = await register(bob);
    const room = (await rest("POST", "/rooms", adaAccount.token, { name: "pinboard", visibility: "private" })).json;
    await rest("POST", `/rooms/${room.id}/members`, adaAccount.token, { userId: bobAccount.id });
    const first = (await rest("POST", "/messages", bobAccount.token, { roomId: room.id, body: "The release is on Friday" })).json;
    await rest("POST", "/messages", adaAccount.token, { roomId: room.id, body: "Noted, thanks" });
    const path = `/rooms/${room.id}`;
    await signIn(ada, path);
    await signIn(bob, path);

    // Bob opens the (empty) Pinned panel.
    await bob.page.getByRole("button", { name: "Show pinned messages" }).click();
    await bob.page.getByText("No pinned messages yet.").waitFor();

    // Ada pins Bob's message from its action bar.
    const target = message(ada.page, "The release is on Friday");
    await target.hover();
    await target.getByRole("button", { name: "Pin message" }).click();
    await target.locator('[data-testid="pinned-marker"]').waitFor();

    // Bob sees it live: in the list and on the message.
    await bob.page.locator('[data-testid="pinned-item"]', { hasText: "The release is on Friday" }).waitFor();
    await message(bob.page, "The release is on Friday").locator('[data-testid="pinned-marker"]').waitFor();
    await bob.page.locator('[data-testid="pinned-item"]').first().click();

    // Bob, a plain member, has no Pin action; the API refuses him.
    const bobs = message(bob.page, "Noted, thanks");
    await bobs.hover();
    expect(await bobs.getByRole("button", { name: /Pin message|Unpin message/ }).count()).toBe(0);
    expect((await rest("PUT", `/messages/${first.id}/pin`, bobAccount.token, {})).status).toBe(403);
    expect((await rest("DELETE", `/messages/${first.id}/pin`, bobAccount.token)).status).toBe(403);

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
