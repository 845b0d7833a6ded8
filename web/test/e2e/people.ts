// What a person does in the browser tests, in one place: signing up or in through the app's
// forms, waiting for the live connection, writing in the composer, reading the messages on
// screen; and the REST API beside the browser (someone at another device, or a test's setup).
import { expect } from "vitest";
import type { Page } from "playwright-core";
import type { Person } from "./harness";

export interface RestAnswer {
  status: number;
  // The parsed JSON body (null when empty): tests read the fields they expect.
  json: any;
}

export type Rest = (method: string, path: string, token?: string, body?: unknown) => Promise<RestAnswer>;

/** A client of the edge's REST API (`/api/v1`) at `edgeAddress` (host:port). */
export function restClient(edgeAddress: string): Rest {
  return async (method, path, token, body) => {
    const response = await fetch(`http://${edgeAddress}/api/v1${path}`, {
      method,
      headers: { ...(body !== undefined && { "content-type": "application/json" }), ...(token && { authorization: `Bearer ${token}` }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null };
  };
}

/** The same call, expecting success (2xx): its JSON. */
export async function ok(rest: Rest, method: string, path: string, token?: string, body?: unknown): Promise<any> {
  const answer = await rest(method, path, token, body);
  expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.json)}`).toBeLessThan(300);
  return answer.json;
}

/** Registers `person` over the API: their access token and user id. */
export async function register(rest: Rest, person: Person): Promise<{ token: string; id: string }> {
  const { status, json } = await rest("POST", "/auth/register", undefined, {
    email: person.email,
    username: person.username,
    password: person.password,
    displayName: person.name,
  });
  expect(status, JSON.stringify(json)).toBe(201);
  return { token: json.accessToken, id: json.user.id };
}

/** Signs `person` in over the API (another session of theirs): its access token. */
export async function login(rest: Rest, person: Person): Promise<string> {
  const { status, json } = await rest("POST", "/auth/login", undefined, { login: person.username, password: person.password });
  expect(status, JSON.stringify(json)).toBe(200);
  return json.accessToken;
}

/** The connection badge says Live (the socket is subscribed and caught up). */
export async function waitLive(page: Page): Promise<void> {
  await page.locator('[data-testid="connection"][data-state="live"]').waitFor({ state: "attached", timeout: 30_000 });
}

/** Opens the app at `baseUrl`, follows "Create an account" from the sign-in page and signs up (the app shows; its socket may still be connecting). */
export async function signUp(person: Person, baseUrl: string): Promise<void> {
  const { page } = person;
  await page.goto(`${baseUrl}/`);
  await page.waitForURL(/\/signin/);
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Username").fill(person.username);
  await page.getByLabel("Display name").fill(person.name);
  await page.getByLabel("Password").fill(person.password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("navigation", { name: "Rooms and conversations" }).waitFor();
}

/** Signs in through the sign-in form, then (with `path`) opens that page of the app. */
export async function signIn(person: Person, baseUrl: string, path?: string): Promise<void> {
  const { page } = person;
  await page.goto(`${baseUrl}/signin`);
  await page.getByLabel("Email or username").fill(person.username);
  await page.getByLabel("Password").fill(person.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Rooms and conversations" }).waitFor();
  await waitLive(page);
  if (path !== undefined) {
    await page.goto(`${baseUrl}${path}`);
    await waitLive(page);
  }
}

export function composer(page: Page) {
  return page.getByRole("textbox", { name: /^Message / });
}

/** Types `text` in the composer (Shift+Enter between lines) and sends it with Enter. */
export async function send(page: Page, text: string): Promise<void> {
  const box = composer(page);
  await box.click();
  for (const [i, line] of text.split("\n").entries()) {
    if (i > 0) await box.press("Shift+Enter");
    await box.pressSequentially(line, { delay: 0 });
  }
  await box.press("Enter");
}

/** A message on screen by its text. */
export function messageRow(page: Page, text: string) {
  return page.locator('[data-testid="message"]', { hasText: text });
}

/** The messages on screen in display order: seq (0 while pending), status and text. */
export async function shown(page: Page): Promise<{ seq: number; status: string; text: string }[]> {
  return page.locator('[data-testid="message"]').evaluateAll((nodes) =>
    nodes.map((n) => ({
      seq: Number(n.getAttribute("data-seq")),
      status: n.getAttribute("data-status") ?? "",
      text: (n.querySelector(".message-body")?.textContent ?? "").replace(/\s+/g, " ").trim(),
    })),
  );
}

export async function texts(page: Page): Promise<string[]> {
  return (await shown(page)).map((m) => m.text);
}
