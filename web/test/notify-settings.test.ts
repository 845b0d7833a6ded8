// @vitest-environment happy-dom
// The notification settings' pure parts (issue 18): mutes and pauses ("1 hour", "8 hours", "until
// tomorrow" in the person's time zone, "until I unmute"), do-not-disturb times, the sidebar's
// badge rule by level and mute, and the Web Push helpers (keys, the resubscribe decision).
import { describe, expect, it } from "vitest";
import { roomBadge, roomNotifySummary } from "../src/lib/badges";
import { activeUntil, describeUntil, FOREVER, isForever, minutesToTime, muteUntil, timeToMinutes, timeZones, tomorrowMorning, zonedInstant } from "../src/lib/notify-time";
import { base64urlToBytes, bytesToBase64url, needsResubscribe, subscriptionFields, subscriptionKey } from "../src/lib/push";

const NOW = Date.parse("2026-03-28T21:30:00Z");

describe("mutes and pauses", () => {
  it("mutes for 1 hour, 8 hours, or until unmuted (9999-12-31)", () => {
    expect(muteUntil("1h", NOW)).toBe("2026-03-28T22:30:00.000Z");
    expect(muteUntil("8h", NOW)).toBe("2026-03-29T05:30:00.000Z");
    expect(muteUntil("forever", NOW)).toBe(FOREVER);
    expect(FOREVER.startsWith("9999-12-31")).toBe(true);
    expect(isForever(FOREVER)).toBe(true);
    expect(isForever(muteUntil("8h", NOW))).toBe(false);
  });

  it("is in force only until then", () => {
    expect(activeUntil("2026-03-28T22:00:00Z", NOW)).toBe(true);
    expect(activeUntil("2026-03-28T21:00:00Z", NOW)).toBe(false);
    expect(activeUntil(null, NOW)).toBe(false);
    expect(activeUntil("garbage", NOW)).toBe(false);
  });

  it("'until tomorrow' is 08:00 of the next day in the person's time zone, across a DST change", () => {
    // Berlin changes to summer time in the night of 28 to 29 March 2026: 08:00 CEST is 06:00 UTC.
    expect(tomorrowMorning(NOW, "Europe/Berlin")).toBe("2026-03-29T06:00:00.000Z");
    // New York is already on EDT (UTC-4); it is still the 28th there.
    expect(tomorrowMorning(NOW, "America/New_York")).toBe("2026-03-29T12:00:00.000Z");
    // Tokyo: already the 29th at 06:30, so tomorrow is the 30th.
    expect(tomorrowMorning(NOW, "Asia/Tokyo")).toBe("2026-03-29T23:00:00.000Z");
    expect(tomorrowMorning(NOW, "UTC")).toBe("2026-03-29T08:00:00.000Z");
  });

  it("finds the instant of a wall-clock time in a zone", () => {
    expect(new Date(zonedInstant(2026, 7, 1, 12, 0, "Europe/London")).toISOString()).toBe("2026-07-01T11:00:00.000Z");
    expect(new Date(zonedInstant(2026, 1, 1, 0, 0, "Asia/Kolkata")).toISOString()).toBe("2025-12-31T18:30:00.000Z");
  });

  it("says when it ends", () => {
    expect(describeUntil(FOREVER, NOW)).toBe("until you turn it back on");
    expect(describeUntil(new Date(NOW + 3_600_000).toISOString(), NOW)).toMatch(/^until /);
  });
});

describe("do-not-disturb times", () => {
  it("converts minutes after midnight and HH:MM both ways", () => {
    expect(minutesToTime(0)).toBe("00:00");
    expect(minutesToTime(22 * 60 + 5)).toBe("22:05");
    expect(minutesToTime(1439)).toBe("23:59");
    expect(timeToMinutes("08:30")).toBe(510);
    expect(timeToMinutes("8:30")).toBe(510);
    expect(timeToMinutes("24:00")).toBeUndefined();
    expect(timeToMinutes("12:60")).toBeUndefined();
    expect(timeToMinutes("")).toBeUndefined();
  });

  it("lists time zones with UTC and a saved one among them", () => {
    const zones = timeZones(["Europe/Berlin"]);
    expect(zones).toContain("UTC");
    expect(zones).toContain("Europe/Berlin");
    expect(new Set(zones).size).toBe(zones.length);
  });
});

describe("the badge rule (@parley/proto/rules/notify badgeFor)", () => {
  const room = { unreadCount: 5, mentionCount: 2, visibility: "public" };
  const dm = { unreadCount: 3, mentionCount: 0, visibility: "direct" };
  const own = (level: "default" | "all" | "mentions" | "nothing", mutedUntil: string | null = null) => ({ level, mutedUntil });

  it("ALL shows the unread count, MENTIONS the mention count, NOTHING or muted stays quiet", () => {
    expect(roomBadge(room, own("all"), "mentions", NOW)).toEqual({ kind: "unread", count: 5, unread: true, muted: false });
    expect(roomBadge(room, own("mentions"), "all", NOW)).toEqual({ kind: "mentions", count: 2, unread: true, muted: false });
    expect(roomBadge(room, own("nothing"), "all", NOW)).toEqual({ kind: "quiet", count: 0, unread: false, muted: false });
    expect(roomBadge(room, own("all", FOREVER), "all", NOW)).toEqual({ kind: "quiet", count: 0, unread: false, muted: true });
  });

  it("a mute that ended counts no more", () => {
    expect(roomBadge(room, own("all", new Date(NOW - 1000).toISOString()), "mentions", NOW).kind).toBe("unread");
    expect(roomBadge(room, own("all", new Date(NOW + 1000).toISOString()), "mentions", NOW).muted).toBe(true);
  });

  it("a room without its own level follows the default; a direct conversation counts every message unless set to nothing", () => {
    expect(roomBadge(room, undefined, "mentions", NOW).kind).toBe("mentions");
    expect(roomBadge(room, undefined, "all", NOW).kind).toBe("unread");
    expect(roomBadge(room, own("default"), "nothing", NOW).kind).toBe("quiet");
    expect(roomBadge(dm, undefined, "mentions", NOW)).toMatchObject({ kind: "unread", count: 3 });
    expect(roomBadge(dm, own("mentions"), "mentions", NOW).kind).toBe("unread");
    expect(roomBadge(dm, own("nothing"), "all", NOW).kind).toBe("quiet");
  });

  it("summarises the room's bell", () => {
    expect(roomNotifySummary("default", null, "mentions", NOW)).toBe("Default (mentions and direct messages)");
    expect(roomNotifySummary("all", null, "mentions", NOW)).toBe("All messages");
    expect(roomNotifySummary("all", FOREVER, "mentions", NOW)).toBe("Muted until you turn it back on");
  });
});

describe("Web Push helpers", () => {
  it("round-trips base64url keys (no padding)", () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 251, 255, 62, 63]);
    const text = bytesToBase64url(bytes);
    expect(text).not.toMatch(/[+/=]/);
    expect([...base64urlToBytes(text)]).toEqual([...bytes]);
    expect(bytesToBase64url(bytes.buffer)).toBe(text);
  });

  it("subscribes again only when the server's key is another one than the subscription's", () => {
    const key = new Uint8Array([4, 9, 9]).buffer;
    const subscription = { options: { applicationServerKey: key, userVisibleOnly: true } } as unknown as PushSubscription;
    expect(subscriptionKey(subscription)).toBe(bytesToBase64url(key));
    expect(needsResubscribe(subscriptionKey(subscription), bytesToBase64url(key))).toBe(false);
    expect(needsResubscribe(subscriptionKey(subscription), "BNEW")).toBe(true);
    expect(needsResubscribe("", "BNEW")).toBe(false);
    expect(needsResubscribe(subscriptionKey(subscription), "")).toBe(false);
  });

  it("takes the endpoint and keys of PushSubscription.toJSON(), refusing an incomplete one", () => {
    expect(subscriptionFields({ endpoint: "https://push.example/x", keys: { p256dh: "P", auth: "A" } })).toEqual({ endpoint: "https://push.example/x", p256dh: "P", auth: "A" });
    expect(() => subscriptionFields({ endpoint: "https://push.example/x", keys: {} })).toThrow(/incomplete/);
  });
});
