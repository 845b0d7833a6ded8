// The web app in a real browser (Debian's Chromium through playwright-core),
// against a whole Parley built and started for this file. Two people, each in
// their own browser context, chat the way people do. The tests run in order and
// build on each other (the same people and room throughout).
import { beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import type { Browser } from "playwright-core";
import { eventually, openBrowserFor, screenshot, useBrowserStack, watch, type Person } from "./harness";
import { composer, login, ok, send, shown, signUp, texts, waitLive } from "./people";

const stack = useBrowserStack({
    // The history test seeds a long room over the REST API.
    RATE_SEND_PER_10S_USER: "1000",
    RATE_SEND_PER_10S_ADDRESS: "2000",
  });
let ada: Person;
let bob: Person;
let generalPath = "";

beforeAll(async () => {
  ada = await openBrowserFor(stack.browser, "Ada");
  bob = await openBrowserFor(stack.browser, "Bob");
});

// ---------- what a person does ----------

function roomLink(page: Page, name: string) {
  return page.locator(`a.room-link[data-room-name="${name}"]`);
}

/** Someone else talking, over the REST API. */
const apiSend = (token: string, roomId: string, body: string) => ok(stack.rest, "POST", "/messages", token, { roomId, body });
const apiHistory = async (token: string, roomId: string): Promise<{ body: string; seq: number }[]> =>
  (await ok(stack.rest, "GET", `/messages/${roomId}?limit=100`, token)).messages;

const roomIdOf = (path: string) => path.split("/").pop()!;

// ---------- the tests ----------

describe("Parley in a browser", { timeout: 90_000 }, () => {
  it("two people sign up, one creates a room, the other joins, and they chat live both ways", async () => {
    await ada.page.goto(`${stack.gateway.url}/`);
    await ada.page.waitForURL(/\/signin/);
    await screenshot(ada.page, "01-sign-in");
    for (const person of [ada, bob]) {
      await signUp(person, stack.gateway.url);
      await waitLive(person.page);
    }

    // Ada creates #general.
    await ada.page.getByRole("button", { name: "Create a room" }).click();
    const dialog = ada.page.getByRole("dialog", { name: "Create a room" });
    await expect.poll(() => dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true); // focus moved into the dialog
    await dialog.getByLabel("Name").fill("general");
    await dialog.getByLabel("Topic").fill("Everything and nothing");
    await screenshot(ada.page, "02-create-room-dialog");
    await dialog.getByRole("button", { name: "Create room" }).click();
    await ada.page.waitForURL(/\/rooms\//);
    generalPath = new URL(ada.page.url()).pathname;
    await ada.page.getByRole("heading", { level: 1, name: "general" }).waitFor();

    // Bob finds it among the public rooms and joins.
    await bob.page.getByRole("button", { name: "Browse public rooms" }).click();
    const browse = bob.page.getByRole("dialog", { name: "Browse public rooms" });
    await browse.getByRole("button", { name: "Join general" }).click();
    await bob.page.waitForURL(new RegExp(generalPath));
    await bob.page.getByRole("heading", { level: 1, name: "general" }).waitFor();
    await roomLink(ada.page, "general").waitFor();

    // Both ways, live.
    await send(ada.page, "Hello Bob, welcome to **general**!");
    await eventually(async () => expect(await texts(bob.page)).toContain("Hello Bob, welcome to general!"), 10_000, "Bob to see Ada's message");
    await send(bob.page, "Hi Ada!\nGlad to be here.");
    await eventually(async () => expect(await texts(ada.page)).toContain("Hi Ada!Glad to be here."), 10_000, "Ada to see Bob's message");
    // Shift+Enter made a second line, and markdown rendered as elements.
    await expect(ada.page.locator('[data-testid="message"] .message-body br').count()).resolves.toBeGreaterThan(0);
    await expect(bob.page.locator('[data-testid="message"] strong', { hasText: "general" }).count()).resolves.toBe(1);
    for (const person of [ada, bob]) {
      const list = await shown(person.page);
      expect(list.map((m) => m.status)).toEqual(["sent", "sent"]);
    }
    // Typing shows on the other side.
    // (Typing is announced at most every few seconds, so Ada keeps typing until it shows.)
    await eventually(
      async () => {
        await composer(ada.page).pressSequentially("typing ", { delay: 0 });
        expect(await bob.page.locator(".typing").textContent()).toBe("Ada is typing…");
      },
      15_000,
      "Bob to see that Ada is typing",
    );
    await composer(ada.page).press("ControlOrMeta+a");
    await composer(ada.page).press("Backspace");
    expect(await composer(ada.page).inputValue()).toBe("");
    // Bob is in the member list (shown by default on a wide screen), online.
    await ada.page.locator(`.member[data-presence="online"]`, { hasText: "Bob" }).waitFor();
    await screenshot(ada.page, "03-room-ada");
    await screenshot(bob.page, "04-room-bob");
  });

  it("an unread badge appears in the sidebar and clears when the room is read", async () => {
    await bob.page.getByRole("link", { name: "Parley" }).click();
    await bob.page.getByRole("heading", { name: /Welcome/ }).waitFor();
    await send(ada.page, "Are you there?");
    await send(ada.page, "Ping number two");
    const badge = roomLink(bob.page, "general").getByTestId("unread-badge");
    await eventually(async () => expect((await badge.textContent())?.trim()).toMatch(/^2\b/), 10_000, "a badge of 2 on #general");
    await screenshot(bob.page, "05-unread-badge");

    await roomLink(bob.page, "general").click();
    await bob.page.getByTestId("new-marker").waitFor();
    await eventually(async () => expect(await badge.count()).toBe(0), 10_000, "the badge to clear");
    expect(await texts(bob.page)).toEqual(expect.arrayContaining(["Are you there?", "Ping number two"]));
    await screenshot(bob.page, "06-new-messages-line");
  });

  it("an edit and a delete show on the other side", async () => {
    await send(ada.page, "Typo in thsi message");
    await send(ada.page, "This one will be deleted");
    await eventually(async () => expect(await texts(bob.page)).toContain("This one will be deleted"), 10_000, "Bob to see both");

    const typo = ada.page.locator('[data-testid="message"]', { hasText: "Typo in thsi message" });
    await typo.hover();
    await typo.getByRole("button", { name: "Edit message" }).click();
    const editor = ada.page.getByRole("textbox", { name: "Edit message" });
    await editor.fill("Typo in this message, fixed");
    await editor.press("Enter");

    const doomed = ada.page.locator('[data-testid="message"]', { hasText: "This one will be deleted" });
    await doomed.hover();
    await doomed.getByRole("button", { name: "Delete message" }).click();
    await ada.page.getByRole("dialog", { name: "Delete message" }).getByRole("button", { name: "Delete" }).click();

    await eventually(
      async () => {
        const list = await texts(bob.page);
        expect(list).toContain("Typo in this message, fixed (edited)");
        expect(list).not.toContain("Typo in thsi message");
        expect(list).toContain("This message was deleted.");
        expect(list.join("\n")).not.toContain("This one will be deleted");
      },
      10_000,
      "Bob to see the edit and the deletion",
    );
    await screenshot(bob.page, "07-edit-and-delete");
  });

  it("a reload keeps the session and the history", async () => {
    const before = await texts(bob.page);
    await bob.page.reload();
    await bob.page.getByRole("heading", { level: 1, name: "general" }).waitFor();
    await waitLive(bob.page);
    expect(new URL(bob.page.url()).pathname).toBe(generalPath);
    await eventually(async () => expect(await texts(bob.page)).toEqual(before), 10_000, "the same history after the reload");
    // Read on the server too: no badge after the reload.
    expect(await roomLink(bob.page, "general").getByTestId("unread-badge").count()).toBe(0);
  });

  it("going offline and coming back loses nothing and duplicates nothing", async () => {
    await waitLive(ada.page);
    await waitLive(bob.page);
    const roomId = roomIdOf(generalPath);
    const adaToken = await login(stack.rest, ada);

    stack.gateway.cut();
    await bob.context.setOffline(true);
    await bob.page.locator('[data-testid="connection"][data-state="reconnecting"]').waitFor({ timeout: 15_000 });

    // While Bob is away, Ada keeps talking (from another device), and Bob writes too.
    for (const n of [1, 2, 3]) await apiSend(adaToken, roomId, `While you were away ${n}`);
    await send(bob.page, "Written while offline");
    await bob.page.locator('[data-testid="message"][data-status="sending"]', { hasText: "Written while offline" }).waitFor();
    await screenshot(bob.page, "08-offline-pending");

    await bob.context.setOffline(false);
    stack.gateway.restore();
    await waitLive(bob.page);
    await waitLive(ada.page);

    const expected = ["While you were away 1", "While you were away 2", "While you were away 3", "Written while offline"];
    for (const person of [bob, ada]) {
      await eventually(
        async () => {
          const list = await shown(person.page);
          for (const text of expected) expect(list.filter((m) => m.text === text), `${person.name}: "${text}" once`).toHaveLength(1);
          expect(list.every((m) => m.status === "sent" || m.status === "deleted"), `${person.name}: all confirmed`).toBe(true);
          // In seq order, with no seq twice.
          const seqs = list.map((m) => Number(m.seq));
          expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
          expect(new Set(seqs).size).toBe(seqs.length);
        },
        25_000,
        `${person.name} to have every message exactly once`,
      );
    }
    // The retried send was stored once.
    const history = await apiHistory(adaToken, roomId);
    expect(history.filter((m) => m.body === "Written while offline")).toHaveLength(1);
    const bobShows = (await shown(bob.page)).map((m) => m.text);
    const adaShows = (await shown(ada.page)).map((m) => m.text);
    expect(bobShows).toEqual(adaShows);
  });

  it("an XSS payload in a message shows as text and no dialog fires", async () => {
    const payloads = [
      "<img src=x onerror=alert(1)>",
      "[x](javascript:alert(1))",
      "<script>alert(1)</script>",
      '<img src=x onerror="window.__pwned=1">',
      "[click me](javascript:window.__pwned=2)",
      "**bold** and [a safe link](https://example.com/docs)",
    ];
    for (const payload of payloads) await send(ada.page, payload);
    await eventually(async () => expect(await texts(bob.page)).toContain("bold and a safe link"), 10_000, "Bob to get the payloads");
    await new Promise((r) => setTimeout(r, 500));

    for (const person of [ada, bob]) {
      const { page } = person;
      const list = await texts(page);
      for (const payload of payloads.slice(0, 5)) expect(list, `${person.name} shows ${payload} as text`).toContain(payload);
      expect(await page.locator(".message-body img, .message-body script, .message-body iframe").count()).toBe(0);
      expect(await page.locator('a[href^="javascript" i]').count()).toBe(0);
      const safe = page.locator(".message-body a", { hasText: "a safe link" });
      expect(await safe.getAttribute("href")).toBe("https://example.com/docs");
      expect(await safe.getAttribute("rel")).toBe("noopener noreferrer nofollow");
      expect(await safe.getAttribute("target")).toBe("_blank");
      expect(await page.evaluate(() => (window as { __pwned?: unknown }).__pwned)).toBeUndefined();
      expect(person.dialogs).toEqual([]);
    }
    await screenshot(bob.page, "09-xss-as-text");
  });

  it("a right-to-left override in a message or a name stays isolated inside it", async () => {
    const reversed = "\u202Egnirts desrever";
    await composer(ada.page).click();
    await ada.page.keyboard.insertText(reversed);
    await composer(ada.page).press("Enter");
    await eventually(async () => expect(await texts(bob.page)).toContain(reversed), 10_000, "Bob to get the message");
    for (const { page, name } of [ada, bob]) {
      const isolation = await page.evaluate((text) => {
        const bidi = (e: Element | null | undefined) => (e ? getComputedStyle(e).unicodeBidi : "missing");
        const message = [...document.querySelectorAll('[data-testid="message"]')].find((m) => m.querySelector(".message-body")?.textContent?.includes(text));
        return {
          // dir="auto": isolated, and laid out by the text's own first strong character.
          body: message?.querySelector(".message-body")?.getAttribute("dir") ?? "none",
          authors: [...document.querySelectorAll(".message .author")].map(bidi),
          rooms: [...document.querySelectorAll(".room-name")].map(bidi),
        };
      }, reversed);
      expect(isolation.body, name).toBe("auto");
      expect(isolation.authors.length, name).toBeGreaterThan(0);
      expect(new Set(isolation.authors), name).toEqual(new Set(["isolate"]));
      expect(new Set(isolation.rooms), name).toEqual(new Set(["isolate"]));
    }
  });

  it("a direct message shows up live, with a badge, for the other person", async () => {
    await bob.page.getByRole("button", { name: "New direct message" }).click();
    const dialog = bob.page.getByRole("dialog", { name: "New direct message" });
    await dialog.getByRole("searchbox").fill(ada.username);
    await dialog.getByRole("button", { name: new RegExp(`^Ada\\b`) }).click();
    await dialog.getByRole("button", { name: "Start conversation" }).click();
    await bob.page.getByRole("heading", { level: 1, name: "Ada" }).waitFor();
    await send(bob.page, "psst, a private word");

    const link = roomLink(ada.page, "Bob");
    await link.waitFor({ timeout: 10_000 });
    await eventually(async () => expect((await link.getByTestId("unread-badge").textContent())?.trim()).toMatch(/^1\b/), 10_000, "Ada's DM badge");
    await link.click();
    await eventually(async () => expect(await texts(ada.page)).toContain("psst, a private word"), 10_000, "Ada to read the DM");
    await screenshot(ada.page, "10-direct-message");
  });

  it("a group conversation of three: picked in the dialog, named by its people, live for each, and the same one again for the same people", async () => {
    const cid = await openBrowserFor(stack.browser, "Cid");
    await signUp(cid, stack.gateway.url);
    await waitLive(cid.page);
    await ada.page.getByRole("button", { name: "New direct message" }).click();
    const dialog = ada.page.getByRole("dialog", { name: "New direct message" });
    for (const person of [bob, cid]) {
      await dialog.getByRole("searchbox").fill(person.username);
      await dialog.getByRole("button", { name: new RegExp(`^${person.name}\\b`) }).click();
      await dialog.getByRole("button", { name: `Remove ${person.name}` }).waitFor();
    }
    await screenshot(ada.page, "10b-group-picked");
    await dialog.getByRole("button", { name: "Start group of 3" }).click();
    await ada.page.getByRole("heading", { level: 1, name: "Bob, Cid" }).waitFor();
    const groupUrl = ada.page.url();
    await send(ada.page, "hello you two");

    for (const [person, title] of [[bob, "Ada, Cid"], [cid, "Ada, Bob"]] as const) {
      const link = roomLink(person.page, title);
      await link.waitFor({ timeout: 10_000 });
      await eventually(async () => expect((await link.getByTestId("unread-badge").textContent())?.trim()).toMatch(/^1\b/), 10_000, `${person.name}'s group badge`);
    }
    await roomLink(cid.page, "Ada, Bob").click();
    await eventually(async () => expect(await texts(cid.page)).toContain("hello you two"), 10_000, "Cid to read the group");
    await send(cid.page, "hi both, Cid here");
    await eventually(async () => expect(await texts(ada.page)).toContain("hi both, Cid here"), 10_000, "Ada to see Cid's reply live");
    await screenshot(ada.page, "10c-group-conversation");

    // Bob picks the same two people: the same conversation, not a new one.
    await bob.page.getByRole("button", { name: "New direct message" }).click();
    const bobs = bob.page.getByRole("dialog", { name: "New direct message" });
    for (const person of [cid, ada]) {
      await bobs.getByRole("searchbox").fill(person.username);
      await bobs.getByRole("button", { name: new RegExp(`^${person.name}\\b`) }).click();
      await bobs.getByRole("button", { name: `Remove ${person.name}` }).waitFor();
    }
    await bobs.getByRole("button", { name: "Start group of 3" }).click();
    await bob.page.getByRole("heading", { level: 1, name: "Ada, Cid" }).waitFor();
    expect(new URL(bob.page.url()).pathname).toBe(new URL(groupUrl).pathname);
    await eventually(async () => expect(await texts(bob.page)).toEqual(expect.arrayContaining(["hello you two", "hi both, Cid here"])), 10_000, "Bob to see the group's history");
    expect(cid.errors).toEqual([]);
    await cid.context.close();
  });

  it("a private room: its owner adds someone, and it appears for them live", async () => {
    await ada.page.getByRole("button", { name: "Create a room" }).click();
    const create = ada.page.getByRole("dialog", { name: "Create a room" });
    await create.getByLabel("Name").fill("secret");
    await create.getByRole("radio", { name: /Private/ }).check();
    await create.getByRole("button", { name: "Create room" }).click();
    await ada.page.getByRole("heading", { level: 1, name: "secret" }).waitFor();
    // Nobody else can find it.
    expect(await roomLink(bob.page, "secret").count()).toBe(0);

    // The room header's (the members panel has one too).
    await ada.page.locator(".room-actions").getByRole("button", { name: "Add people" }).click();
    const add = ada.page.getByRole("dialog", { name: "Add people to #secret" });
    await add.getByRole("searchbox").fill(bob.username);
    await add.getByRole("button", { name: "Add Bob" }).click();
    await add.getByText("Added").waitFor();
    await add.getByRole("button", { name: "Done" }).click();

    await roomLink(bob.page, "secret").waitFor({ timeout: 10_000 });
    await send(ada.page, "Welcome to the secret room");
    await roomLink(bob.page, "secret").click();
    await eventually(async () => expect(await texts(bob.page)).toContain("Welcome to the secret room"), 10_000, "Bob to read the private room");
    await ada.page.locator(".member", { hasText: "Bob" }).waitFor();
  });

  it("profile changes show in the app and survive a reload", async () => {
    await ada.page.getByRole("button", { name: /^Your profile/ }).click();
    const dialog = ada.page.getByRole("dialog", { name: "Your profile" });
    await dialog.getByLabel("Display name").fill("Ada Lovelace");
    await dialog.getByLabel("Status").fill("Computing Bernoulli numbers");
    await dialog.getByRole("button", { name: "Save profile" }).click();
    await ada.page.locator(".me-name", { hasText: "Ada Lovelace" }).waitFor();
    await ada.page.reload();
    await ada.page.locator(".me-status", { hasText: "Computing Bernoulli numbers" }).waitFor();
  });

  it("is usable at phone width and in the dark theme", async () => {
    const phone = await stack.browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: "dark", isMobile: true, hasTouch: true });
    const watcher = { dialogs: [] as string[], errors: [] as string[] };
    try {
      const page = await phone.newPage();
      watch(watcher, page);
      await page.goto(`${stack.gateway.url}/signin`);
      await page.getByLabel("Email or username").fill(bob.username);
      await page.getByLabel("Password").fill(bob.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      // With no room open, the room list is the screen.
      await roomLink(page, "general").waitFor();
      await screenshot(page, "12-phone-rooms-dark");
      await roomLink(page, "general").click();
      await page.getByRole("heading", { level: 1, name: "general" }).waitFor();
      expect(await page.locator(".sidebar").isVisible()).toBe(false);
      await eventually(async () => expect(await texts(page)).toContain("bold and a safe link"), 10_000, "history on the phone");
      await screenshot(page, "13-phone-room-dark");
      await page.getByRole("button", { name: "Open rooms" }).click();
      await roomLink(page, "general").waitFor({ state: "visible" });
      // Signing out of this device only.
      await page.getByRole("button", { name: /^Your profile/ }).click();
      await page.getByRole("dialog", { name: "Your profile" }).getByRole("button", { name: "Sign out", exact: true }).click();
      await page.waitForURL(/\/signin/);
      await page.reload();
      await page.getByRole("button", { name: "Sign in" }).waitFor();
      expect(await page.evaluate(() => localStorage.getItem("parley.session"))).toBeNull();
      expect(watcher.errors).toEqual([]);
      expect(watcher.dialogs).toEqual([]);
    } finally {
      await phone.close();
    }
  });

  it("older history loads as you scroll up without moving what you are reading", async () => {
    const token = await login(stack.rest, bob);
    const roomId = (await ok(stack.rest, "POST", "/rooms", token, { name: "history", visibility: "public" })).id as string;
    // Three pages of 50: the newest, then two more as the list is scrolled up.
    const total = 110;
    for (let n = 1; n <= total; n++) await apiSend(token, roomId, `History ${n}`);

    const { page } = bob;
    await roomLink(page, "history").click();
    await page.getByRole("heading", { level: 1, name: "history" }).waitFor();
    await eventually(async () => expect((await texts(page)).at(-1)).toBe(`History ${total}`), 10_000, "the newest page");
    const scroller = page.getByRole("log", { name: "Messages" });
    const atBottom = () => scroller.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight < 48);
    expect(await atBottom()).toBe(true);
    expect(await page.getByRole("button", { name: /Jump to latest|new message/ }).count()).toBe(0);
    const firstShown = Number((await texts(page))[0]!.replace("History ", ""));
    expect(firstShown).toBeGreaterThan(1);

    // Scroll to the top: the page before loads, and the message that was first stays where it was on screen.
    // The text being read (the message above it may gain or lose its header as the groups change).
    const anchor = page.locator(".message-body", { hasText: new RegExp(`^History ${firstShown}$`) });
    const offset = () => anchor.evaluate((el) => el.getBoundingClientRect().top - el.closest('[role="log"]')!.getBoundingClientRect().top);
    // Scrolled to the very top, the anchor will be this far from the top of the list's viewport.
    const expected = await anchor.evaluate((el) => {
      const log = el.closest('[role="log"]')!;
      return el.getBoundingClientRect().top - log.getBoundingClientRect().top + log.scrollTop;
    });
    await scroller.evaluate((el) => {
      el.scrollTop = 0;
    });
    await eventually(async () => expect((await texts(page)).length).toBeGreaterThanOrEqual(100), 10_000, "an older page");
    await page.waitForTimeout(300);
    expect(await scroller.evaluate((el) => el.scrollTop)).toBeGreaterThan(100);
    expect(Math.abs((await offset()) - expected)).toBeLessThan(2);
    expect((await texts(page)).length).toBeLessThan(total);
    await screenshot(page, "11-history-scrolled-up");

    // Keep going to the very beginning: every message once, in order.
    await eventually(
      async () => {
        await scroller.evaluate((el) => {
          el.scrollTop = 0;
        });
        expect(await page.getByText("This is the beginning of #history.").isVisible()).toBe(true);
      },
      20_000,
      "the beginning of the room",
    );
    const all = await texts(page);
    expect(all).toEqual(Array.from({ length: total }, (_, i) => `History ${i + 1}`));

    // Far from the newest message, a button takes you back.
    const jump = page.getByRole("button", { name: "Jump to latest" });
    await jump.click();
    await eventually(async () => expect(await atBottom()).toBe(true), 5_000, "back at the newest message");
    await eventually(async () => expect(await jump.count()).toBe(0), 5_000, "the jump button to go");
  });

  it("an expired or refused access token is renewed silently, before expiry and on a 401", async () => {
    const { page } = bob;
    type Stored = { accessToken: string; refreshToken: string; expiresAt: number };
    const read = () => page.evaluate(() => JSON.parse(localStorage.getItem("parley.session") ?? "null") as Stored);
    const tamper = (change: Partial<Stored>) =>
      page.evaluate((c) => {
        const stored = JSON.parse(localStorage.getItem("parley.session")!) as Stored;
        localStorage.setItem("parley.session", JSON.stringify({ ...stored, ...c, expiresAt: Date.now() + (c.expiresAt ?? 0) }));
      }, change);
    const first = await read();

    // Expired by the clock: renewed before the first call.
    await tamper({ expiresAt: -1000 });
    await page.reload();
    await roomLink(page, "general").waitFor();
    await waitLive(page);
    const second = await read();
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.expiresAt).toBeGreaterThan(Date.now() + 60_000);

    // Refused by the server although not expired: the 401 renews it and the call goes through.
    await tamper({ accessToken: "not-a-token", expiresAt: 600_000 });
    await page.reload();
    await roomLink(page, "general").waitFor();
    await waitLive(page);
    const third = await read();
    expect(third.accessToken).not.toBe("not-a-token");
    expect(third.refreshToken).not.toBe(second.refreshToken);
    expect(bob.errors).toEqual([]);
  });

  it("signing out everywhere ends the other devices' sessions", async () => {
    const second = await stack.browser.newContext({ viewport: { width: 1024, height: 700 } });
    try {
      const page = await second.newPage();
      await page.goto(`${stack.gateway.url}/signin`);
      await page.getByLabel("Email or username").fill(ada.username);
      await page.getByLabel("Password").fill(ada.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await waitLive(page);

      await ada.page.getByRole("button", { name: /^Your profile/ }).click();
      const dialog = ada.page.getByRole("dialog", { name: "Your profile" });
      await dialog.getByRole("button", { name: "Sign out everywhere…" }).click();
      await dialog.getByRole("button", { name: "Yes, sign out on every device" }).click();
      await ada.page.waitForURL(/\/signin/);
      await page.waitForURL(/\/signin/, { timeout: 15_000 });
      await page.getByText("You were signed out on every device.").waitFor();
      await screenshot(page, "14-signed-out-everywhere");
      // And it stays signed out after a reload.
      await page.reload();
      await page.getByRole("button", { name: "Sign in" }).waitFor();
    } finally {
      await second.close();
    }
    expect(ada.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  });
});
