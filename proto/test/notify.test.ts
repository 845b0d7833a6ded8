// The notification rules (proto/rules/notify.ts): reasons, levels and mutes, quiet hours in a time
// zone, the channels a notification goes to, and the web app's badges; properties over arbitrary input.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Channel, Level, Reason } from "../gen/parley/notify/v1/notify_pb.js";
import {
  CHANNEL,
  LEVEL,
  REASON,
  badgeFor,
  channelStillOn,
  channelsFor,
  effectiveLevel,
  inQuietHours,
  inWindow,
  minuteOfDay,
  quietUntil,
  reasonFor,
  strongest,
  type MessageFacts,
  type PersonFacts,
  type ReasonValue,
  type RulePreferences,
} from "../rules/notify.js";

const NOW = new Date("2026-12-04T12:00:00Z");
const LATER = new Date("2026-12-05T12:00:00Z");
const EARLIER = new Date("2026-12-03T12:00:00Z");
const SENDER = "00000000-0000-0000-0000-000000000001";
const ME = "00000000-0000-0000-0000-000000000002";

const message = (facts: Partial<MessageFacts> = {}): MessageFacts => ({
  senderId: SENDER,
  direct: false,
  mentionUserIds: [],
  mentionsEveryone: false,
  inRoomTimeline: true,
  ...facts,
});
const me = (facts: Partial<PersonFacts> = {}): PersonFacts => ({ userId: ME, defaultLevel: LEVEL.MENTIONS, ...facts });
const prefs = (p: Partial<RulePreferences> = {}): RulePreferences => ({
  defaultLevel: LEVEL.MENTIONS,
  desktop: true,
  push: true,
  email: true,
  emailDelaySeconds: 900,
  ...p,
});

describe("notify rules", () => {
  it("repeats the contract's numbers", () => {
    expect(LEVEL).toEqual({ UNSPECIFIED: Level.UNSPECIFIED, ALL: Level.ALL, MENTIONS: Level.MENTIONS, NOTHING: Level.NOTHING });
    expect(CHANNEL).toEqual({ UNSPECIFIED: Channel.UNSPECIFIED, DESKTOP: Channel.DESKTOP, PUSH: Channel.PUSH, EMAIL: Channel.EMAIL });
    expect(REASON).toEqual({
      UNSPECIFIED: Reason.UNSPECIFIED,
      DIRECT: Reason.DIRECT,
      MENTION: Reason.MENTION,
      ROOM_MENTION: Reason.ROOM_MENTION,
      THREAD_REPLY: Reason.THREAD_REPLY,
      ROOM_MESSAGE: Reason.ROOM_MESSAGE,
    });
  });

  it("gives each reason in its order of strength", () => {
    expect(reasonFor(message({ direct: true, mentionUserIds: [ME] }), me(), NOW)).toBe(REASON.DIRECT);
    expect(reasonFor(message({ mentionUserIds: [ME], mentionsEveryone: true }), me(), NOW)).toBe(REASON.MENTION);
    expect(reasonFor(message({ mentionsEveryone: true, threadRootId: "r" }), me({ followsThread: true }), NOW)).toBe(REASON.ROOM_MENTION);
    expect(reasonFor(message({ threadRootId: "r", inRoomTimeline: false }), me({ followsThread: true }), NOW)).toBe(REASON.THREAD_REPLY);
    expect(reasonFor(message(), me({ room: { level: LEVEL.ALL } }), NOW)).toBe(REASON.ROOM_MESSAGE);
    expect(reasonFor(message(), me(), NOW)).toBeUndefined();
    expect(reasonFor(message({ threadRootId: "r", inRoomTimeline: false }), me({ room: { level: LEVEL.ALL } }), NOW)).toBeUndefined();
  });

  it("never notifies the sender, a muted room or level NOTHING; a muted thread stops only its replies", () => {
    expect(reasonFor(message({ direct: true, senderId: ME }), me(), NOW)).toBeUndefined();
    expect(reasonFor(message({ mentionUserIds: [ME] }), me({ room: { level: LEVEL.ALL, mutedUntil: LATER } }), NOW)).toBeUndefined();
    expect(reasonFor(message({ mentionUserIds: [ME] }), me({ room: { level: LEVEL.ALL, mutedUntil: EARLIER } }), NOW)).toBe(REASON.MENTION);
    expect(reasonFor(message({ mentionUserIds: [ME] }), me({ defaultLevel: LEVEL.NOTHING }), NOW)).toBeUndefined();
    const reply = message({ threadRootId: "r", inRoomTimeline: false });
    expect(reasonFor(reply, me({ followsThread: true, threadMutedUntil: LATER }), NOW)).toBeUndefined();
    expect(reasonFor({ ...reply, mentionUserIds: [ME] }, me({ followsThread: true, threadMutedUntil: LATER }), NOW)).toBe(REASON.MENTION);
  });

  it("lets direct conversations notify on the default NOTHING, but not when the conversation itself is NOTHING or muted", () => {
    expect(reasonFor(message({ direct: true }), me({ defaultLevel: LEVEL.NOTHING }), NOW)).toBe(REASON.DIRECT);
    expect(reasonFor(message({ direct: true }), me({ room: { level: LEVEL.NOTHING } }), NOW)).toBeUndefined();
    expect(reasonFor(message({ direct: true }), me({ room: { level: LEVEL.UNSPECIFIED, mutedUntil: LATER } }), NOW)).toBeUndefined();
  });

  it("property: the own message never notifies, a muted room never notifies, and the reason is the strongest that applies", () => {
    const facts = fc.record({
      direct: fc.boolean(),
      mentioned: fc.boolean(),
      everyone: fc.boolean(),
      reply: fc.boolean(),
      alsoSent: fc.boolean(),
      follows: fc.boolean(),
      threadMuted: fc.boolean(),
      level: fc.constantFrom(0, 1, 2, 3),
      defaultLevel: fc.constantFrom(1, 2, 3),
      muted: fc.boolean(),
      own: fc.boolean(),
    });
    fc.assert(
      fc.property(facts, (f) => {
        const m = message({
          senderId: f.own ? ME : SENDER,
          direct: f.direct,
          mentionUserIds: f.mentioned ? [ME] : [],
          mentionsEveryone: f.everyone,
          ...(f.reply && { threadRootId: "r" }),
          inRoomTimeline: !f.reply || f.alsoSent,
        });
        const p = me({ followsThread: f.follows, room: { level: f.level, mutedUntil: f.muted ? LATER : null }, threadMutedUntil: f.threadMuted ? LATER : null, defaultLevel: f.defaultLevel });
        const reason = reasonFor(m, p, NOW);
        if (f.own || f.muted) return reason === undefined;
        const level = effectiveLevel(f.direct, p.room, f.defaultLevel, NOW);
        if (level === LEVEL.NOTHING) return reason === undefined;
        // Every reason that applies, the strongest wins.
        const applies = [
          f.direct && REASON.DIRECT,
          f.mentioned && REASON.MENTION,
          f.everyone && REASON.ROOM_MENTION,
          f.reply && f.follows && !f.threadMuted && REASON.THREAD_REPLY,
          level === LEVEL.ALL && (!f.reply || f.alsoSent) && REASON.ROOM_MESSAGE,
        ].filter((r) => typeof r === "number");
        const expected = applies.reduce<ReasonValue | undefined>((a, b) => strongest(a, b), undefined);
        return reason === expected;
      }),
    );
  });

  it("reads quiet hours in the person's time zone, across midnight, and start == end as the whole day", () => {
    expect(minuteOfDay(new Date("2026-12-04T23:30:00Z"), "Europe/Berlin")).toBe(30); // 00:30 CET
    expect(minuteOfDay(new Date("2026-07-04T23:30:00Z"), "Europe/Berlin")).toBe(90); // 01:30 CEST
    expect(minuteOfDay(new Date("2026-12-04T12:00:00Z"), "America/New_York")).toBe(7 * 60);
    const night = { enabled: true, startMinute: 22 * 60, endMinute: 7 * 60, timeZone: "Europe/Berlin" };
    expect(inQuietHours(night, new Date("2026-12-04T22:00:00Z"))).toBe(true); // 23:00 there
    expect(inQuietHours(night, new Date("2026-12-04T05:59:00Z"))).toBe(true); // 06:59 there
    expect(inQuietHours(night, new Date("2026-12-04T06:00:00Z"))).toBe(false); // 07:00 there
    expect(inQuietHours({ ...night, enabled: false }, new Date("2026-12-04T22:00:00Z"))).toBe(false);
    expect(inQuietHours({ ...night, startMinute: 600, endMinute: 600 }, NOW)).toBe(true);
    expect(quietUntil({ dnd: night }, new Date("2026-12-04T22:00:00Z"))).toEqual(new Date("2026-12-05T06:00:00Z"));
    expect(quietUntil({ dnd: night, pausedUntil: LATER }, new Date("2026-12-04T22:00:00Z"))).toEqual(LATER);
    expect(quietUntil({ dnd: night }, NOW)).toBeUndefined();
  });

  it("property: inWindow is the set of minutes from start up to end, wrapping at midnight", () => {
    const minute = fc.integer({ min: 0, max: 1439 });
    fc.assert(
      fc.property(minute, minute, minute, (m, start, end) => {
        const inside = inWindow(m, start, end);
        if (start === end) return inside;
        const distance = (m - start + 1440) % 1440;
        const length = (end - start + 1440) % 1440;
        return inside === distance < length;
      }),
    );
  });

  it("property: quietUntil, when set, is after now and quiet hours no longer hold a minute before it... or a pause runs to it", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1439 }),
        fc.integer({ min: 0, max: 1439 }),
        fc.date({ min: new Date("2020-01-01"), max: new Date("2030-01-01"), noInvalidDate: true }),
        fc.constantFrom("UTC", "Europe/Berlin", "Asia/Kolkata", "America/Los_Angeles"),
        (start, end, now, timeZone) => {
          fc.pre(start !== end);
          const dnd = { enabled: true, startMinute: start, endMinute: end, timeZone };
          const until = quietUntil({ dnd }, now);
          if (!inQuietHours(dnd, now)) return until === undefined;
          // Outside DST jumps, quiet hours end exactly there.
          return until !== undefined && until > now && (!inQuietHours(dnd, until) || until.getTime() - now.getTime() > 23 * 3_600_000);
        },
      ),
    );
  });

  it("plans the channels: quiet time skips desktop and push, email only for DMs and mentions after the delay and the quiet time", () => {
    const created = NOW;
    expect(channelsFor(REASON.MENTION, prefs(), created, NOW, { email: true })).toEqual({
      desktop: true,
      push: true,
      email: true,
      emailDueAt: new Date(NOW.getTime() + 900_000),
    });
    expect(channelsFor(REASON.ROOM_MENTION, prefs(), created, NOW, { email: true }).email).toBe(false);
    expect(channelsFor(REASON.DIRECT, prefs(), created, NOW, { email: false }).email).toBe(false);
    expect(channelsFor(undefined, prefs(), created, NOW, { email: true })).toEqual({ desktop: false, push: false, email: false });
    const paused = channelsFor(REASON.DIRECT, prefs({ pausedUntil: LATER }), created, NOW, { email: true });
    expect(paused).toMatchObject({ desktop: false, push: false, email: true, emailDueAt: LATER });
    expect(channelsFor(REASON.DIRECT, prefs({ desktop: false, email: false }), created, NOW, { email: true })).toMatchObject({ desktop: false, push: true, email: false });
    expect(channelStillOn(CHANNEL.PUSH, prefs({ pausedUntil: LATER }), NOW)).toBe(false);
    expect(channelStillOn(CHANNEL.EMAIL, prefs({ pausedUntil: LATER }), NOW)).toBe(true);
    expect(channelStillOn(CHANNEL.DESKTOP, prefs({ desktop: false }), NOW)).toBe(false);
  });

  it("gives the web app's badge from the same levels", () => {
    expect(badgeFor(false, { level: LEVEL.ALL }, LEVEL.MENTIONS, NOW)).toBe("unread");
    expect(badgeFor(false, null, LEVEL.MENTIONS, NOW)).toBe("mentions");
    expect(badgeFor(false, null, LEVEL.ALL, NOW)).toBe("unread");
    expect(badgeFor(false, { level: LEVEL.NOTHING }, LEVEL.ALL, NOW)).toBe("quiet");
    expect(badgeFor(false, { level: LEVEL.ALL, mutedUntil: LATER }, LEVEL.ALL, NOW)).toBe("quiet");
    expect(badgeFor(true, null, LEVEL.NOTHING, NOW)).toBe("unread");
    expect(badgeFor(true, { level: LEVEL.MENTIONS }, LEVEL.ALL, NOW)).toBe("unread");
  });

  it("property: the badge is quiet exactly when nothing notifies, and unread exactly when every message does", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.constantFrom(0, 1, 2, 3), fc.constantFrom(1, 2, 3), fc.boolean(), (direct, level, defaultLevel, muted) => {
        const room = { level, mutedUntil: muted ? LATER : null };
        const badge = badgeFor(direct, room, defaultLevel, NOW);
        const plain = reasonFor(message({ direct }), me({ room, defaultLevel }), NOW);
        const mention = reasonFor(message({ direct, mentionUserIds: [ME] }), me({ room, defaultLevel }), NOW);
        if (badge === "quiet") return plain === undefined && mention === undefined;
        if (badge === "unread") return plain !== undefined;
        return plain === undefined && mention !== undefined;
      }),
    );
  });
});
