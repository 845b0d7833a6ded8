// Issue 16, running a room from the app, with three people in a browser: the owner renames the
// room and describes it (members see it live, the description as text), sets the pin policy and
// makes a member an admin from the members panel; the admin removes someone, whose app drops the
// room at once; people are added back from the members panel; the owner, asked to hand the room
// over before leaving, transfers ownership and leaves; the new owner archives it (members get a
// banner and no composer) and unarchives it. Screenshots: desktop and phone, light and dark.
import { describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { atFailure, eventually, openBrowserFor, screenshot, useBrowserStack, type Person } from "./harness";
import { register, signIn } from "./people";

const stack = useBrowserStack();

const heading = (page: Page, name: string) => page.getByRole("heading", { level: 1, name });
const composer = (page: Page) => page.locator(".composer textarea, .composer [contenteditable]");
const sidebar = (page: Page) => page.getByRole("navigation", { name: "Rooms and conversations" });
const members = (page: Page) => page.locator("aside.members");
const memberRow = (page: Page, name: string) => members(page).locator(".member", { hasText: name });
const settingsDialog = (page: Page) => page.getByRole("dialog", { name: /settings$/ });

async function openSettings(page: Page) {
  await page.getByRole("button", { name: "Room settings" }).click();
  await settingsDialog(page).waitFor();
  return settingsDialog(page);
}

async function memberAction(page: Page, name: string, action: string) {
  await memberRow(page, name).getByRole("button", { name: `Actions for ${name}` }).click();
  await page.getByRole("menu", { name: `Actions for ${name}` }).getByRole("menuitem", { name: action }).click();
}

async function shots(people: [Person, string][], name: string) {
  for (const [person, scheme] of people) await screenshot(person.page, `room-settings-${name}-${scheme}`);
}

describe("running a room from the app", { timeout: 240_000 }, () => {
  it("rename and description live, pin policy, roles, removal, adding people, ownership transfer, leaving, archive", async () => {
    const ada = await openBrowserFor(stack.browser, "Ada");
    const bob = await openBrowserFor(stack.browser, "Bob", { colorScheme: "dark" });
    const cid = await openBrowserFor(stack.browser, "Cid");
    const [adaAccount, bobAccount, cidAccount] = [await register(stack.rest, ada), await register(stack.rest, bob), await register(stack.rest, cid)];
    const created = await stack.rest("POST", "/rooms", adaAccount.token, { name: "planning", visibility: "private" });
    expect(created.status).toBe(201);
    const roomId: string = created.json.id;
    for (const account of [bobAccount, cidAccount]) {
      expect((await stack.rest("POST", `/rooms/${roomId}/members`, adaAccount.token, { userId: account.id })).status).toBe(201);
    }
    for (const person of [ada, bob, cid]) {
      await signIn(person, stack.gateway.url, `/rooms/${roomId}`);
      await heading(person.page, "planning").waitFor();
    }

    // --- Bob, a plain member, sees the room's details but no controls for them or for people.
    let dialog = await openSettings(bob.page);
    expect(await dialog.getByLabel("Name").count()).toBe(0);
    expect(await dialog.getByText("No description yet.").count()).toBe(1);
    await dialog.getByRole("button", { name: "Close" }).click();
    expect(await memberRow(bob.page, "Cid").getByRole("button", { name: "Actions for Cid" }).count()).toBe(0);

    // --- Ada renames the room and describes it; a description that is too long is refused at its field first.
    dialog = await openSettings(ada.page);
    const description = dialog.getByLabel("Description");
    await description.fill("x".repeat(1001));
    await dialog.getByRole("button", { name: "Save changes" }).click();
    const describedBy = (await description.getAttribute("aria-describedby")) ?? "";
    const errorId = describedBy.split(" ").find((id) => id.endsWith("-error"));
    expect(errorId).toBeDefined();
    expect(await ada.page.locator(`[id="${errorId}"]`).textContent()).toBe("at most 1000 characters");
    expect(await description.getAttribute("aria-invalid")).toBe("true");
    await screenshot(ada.page, "room-settings-01-description-error-light");

    await dialog.getByLabel("Name").fill("planning-2027");
    await dialog.getByLabel("Topic").fill("Roadmap and dates");
    await description.fill("**Quarterly** plans live here.\n\n<img src=x onerror=alert(1)> is just text.");
    await dialog.getByRole("button", { name: "Save changes" }).click();
    await dialog.getByText("Saved.").waitFor();
    expect(await description.getAttribute("aria-invalid")).toBeNull();
    // The pin policy: a switch that saves when flipped.
    const pinSwitch = dialog.getByRole("switch", { name: "Members may pin messages" });
    expect(await pinSwitch.isChecked()).toBe(false);
    await pinSwitch.click();
    await eventually(async () => expect(await pinSwitch.isChecked()).toBe(true), 10_000, "the pin policy saved");
    expect((await stack.rest("GET", `/rooms/${roomId}`, bobAccount.token)).json).toMatchObject({ name: "planning-2027", membersCanPin: true });
    await screenshot(ada.page, "room-settings-02-dialog-desktop-light");
    await dialog.getByRole("button", { name: "Close" }).click();

    // Bob and Cid see it live: the new name, the topic; the description as text, never as markup.
    for (const person of [bob, cid]) {
      await atFailure(person.page, `room-settings-live-rename-failed-${person.name}`, () => heading(person.page, "planning-2027").waitFor());
      await person.page.locator(".room-topic", { hasText: "Roadmap and dates" }).waitFor();
    }
    dialog = await openSettings(bob.page);
    const shown = dialog.getByTestId("room-description");
    await shown.getByText("Quarterly").waitFor();
    expect(await shown.locator("strong", { hasText: "Quarterly" }).count()).toBe(1);
    expect(await shown.textContent()).toContain("<img src=x onerror=alert(1)> is just text.");
    expect(await shown.locator("img").count()).toBe(0);
    await screenshot(bob.page, "room-settings-03-about-desktop-dark");
    await dialog.getByRole("button", { name: "Close" }).click();

    // --- Ada makes Bob an admin from the members panel; Bob's app knows at once.
    await memberAction(ada.page, "Bob", "Make admin");
    await memberRow(ada.page, "Bob").locator(".role-tag", { hasText: "admin" }).waitFor();
    await memberRow(bob.page, "Bob").locator(".role-tag", { hasText: "admin" }).waitFor();
    // An admin may remove plain members, but neither change roles nor hand the room over, nor touch the owner.
    await memberRow(bob.page, "Cid").getByRole("button", { name: "Actions for Cid" }).click();
    const bobMenu = bob.page.getByRole("menu", { name: "Actions for Cid" });
    expect(await bobMenu.getByRole("menuitem").allTextContents()).toEqual(["Remove from room"]);
    await screenshot(bob.page, "room-settings-04-member-menu-desktop-dark");
    expect(await memberRow(bob.page, "Ada").getByRole("button", { name: "Actions for Ada" }).count()).toBe(0);

    // --- Bob removes Cid: Cid's app drops the room at once.
    await bobMenu.getByRole("menuitem", { name: "Remove from room" }).click();
    await bob.page.getByRole("dialog", { name: "Remove Cid" }).getByRole("button", { name: "Remove" }).click();
    await atFailure(cid.page, "room-settings-kicked-failed", async () => {
      await cid.page.getByText(/You were removed from/).waitFor();
      await eventually(async () => expect(await sidebar(cid.page).getByText("planning-2027").count()).toBe(0), 10_000, "the room gone from Cid's sidebar");
    });
    expect(await composer(cid.page).count()).toBe(0);
    await eventually(async () => expect(await memberRow(bob.page, "Cid").count()).toBe(0), 10_000, "Cid gone from Bob's member list");
    await screenshot(cid.page, "room-settings-05-removed-desktop-light");

    // --- Ada adds Cid back from the members panel: people already in the room are not offered.
    await members(ada.page).getByRole("button", { name: "Add people" }).click();
    const add = ada.page.getByRole("dialog", { name: /^Add people/ });
    await add.getByLabel("Find people").fill(bob.username);
    await add.getByText("Nobody found who is not in the room already.").waitFor();
    await add.getByLabel("Find people").fill(cid.username);
    await add.getByRole("button", { name: "Add Cid" }).click();
    await add.getByText("Added").waitFor();
    await add.getByRole("button", { name: "Done" }).click();
    await sidebar(cid.page).getByText("planning-2027").waitFor({ timeout: 15_000 });

    // --- Ada wants to leave: she is the owner, so she is asked to hand the room over first.
    await ada.page.getByRole("button", { name: "Leave room" }).click();
    const leave = ada.page.getByRole("dialog", { name: "Leave #planning-2027" });
    await leave.getByText("Transfer ownership to another member first").waitFor();
    await screenshot(ada.page, "room-settings-06-leave-owner-light");
    await leave.getByRole("button", { name: "Transfer ownership…" }).click();
    dialog = settingsDialog(ada.page);
    await dialog.getByLabel("New owner").selectOption({ label: `Bob (@${bob.username}) · admin` });
    await dialog.getByRole("button", { name: "Transfer ownership" }).click();
    await ada.page.getByRole("dialog", { name: "Transfer ownership" }).getByRole("button", { name: "Transfer ownership" }).click();
    // The section goes: Ada is an admin now; Bob is the owner, live.
    await dialog.getByRole("heading", { name: "Ownership" }).waitFor({ state: "detached" });
    await memberRow(bob.page, "Bob").locator(".role-tag", { hasText: "owner" }).waitFor();
    await memberRow(bob.page, "Ada").locator(".role-tag", { hasText: "admin" }).waitFor();
    await dialog.getByRole("button", { name: "Leave room" }).click();
    await ada.page.getByRole("dialog", { name: "Leave #planning-2027" }).getByRole("button", { name: "Leave room" }).click();
    await ada.page.waitForURL(`${stack.gateway.url}/`);
    await eventually(async () => expect(await memberRow(bob.page, "Ada").count()).toBe(0), 10_000, "Ada gone from Bob's member list");

    // --- Bob, the owner now, archives the room: Cid gets the banner and no composer, and no way to unarchive.
    await cid.page.goto(`${stack.gateway.url}/rooms/${roomId}`);
    await composer(cid.page).first().waitFor();
    dialog = await openSettings(bob.page);
    await dialog.getByRole("heading", { name: "Ownership" }).waitFor();
    await dialog.getByRole("button", { name: "Archive room" }).click();
    await bob.page.getByRole("dialog", { name: "Archive #planning-2027" }).getByRole("button", { name: "Archive room" }).click();
    await dialog.getByRole("button", { name: "Unarchive room" }).waitFor();
    await dialog.getByRole("button", { name: "Close" }).click();
    const cidBanner = cid.page.getByTestId("archived-banner");
    await atFailure(cid.page, "room-settings-archived-failed", () => cidBanner.waitFor());
    expect(await composer(cid.page).count()).toBe(0);
    expect(await cidBanner.getByRole("button", { name: "Unarchive" }).count()).toBe(0);
    await shots([[cid, "light"]], "07-archived-member-desktop");
    await shots([[bob, "dark"]], "08-archived-owner-desktop");

    // --- Phone width: the archived room, the settings dialog, the members panel with its menu.
    for (const [person, scheme] of [
      [bob, "dark"],
      [cid, "light"],
    ] as const) {
      await person.page.setViewportSize({ width: 390, height: 844 });
      await person.page.reload();
      await heading(person.page, "planning-2027").waitFor();
      await person.page.getByTestId("archived-banner").waitFor();
      await screenshot(person.page, `room-settings-09-archived-phone-${scheme}`);
      await openSettings(person.page);
      await screenshot(person.page, `room-settings-10-dialog-phone-${scheme}`);
      await settingsDialog(person.page).getByRole("button", { name: "Close" }).click();
    }
    await bob.page.getByRole("button", { name: "Show members" }).click();
    await memberRow(bob.page, "Cid").getByRole("button", { name: "Actions for Cid" }).click();
    await screenshot(bob.page, "room-settings-11-member-menu-phone-dark");
    await bob.page.keyboard.press("Escape");
    await bob.page.getByRole("menu").waitFor({ state: "detached" });
    await members(bob.page).getByRole("button", { name: "Hide members" }).click();

    // --- Bob unarchives from the banner: Cid can write again, live.
    await bob.page.getByTestId("archived-banner").getByRole("button", { name: "Unarchive" }).click();
    await atFailure(cid.page, "room-settings-unarchive-failed", () => composer(cid.page).first().waitFor());
    expect(await cid.page.getByTestId("archived-banner").count()).toBe(0);

    for (const person of [ada, bob, cid]) {
      expect(person.errors, person.name).toEqual([]);
      expect(person.dialogs, person.name).toEqual([]);
      await person.context.close();
    }
  });
});
