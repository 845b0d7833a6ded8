// Who is notified of a message, why, and on which channels (issue 18): one pure module for the
// notification worker (services/notify) and the web app (its badges), so that what notifies and
// what the badges show agree. No I/O, no clock of its own: every function is given `now`.
//
// The numbers are those of parley.notify.v1 (Level, Reason, Channel); they are repeated here so
// that the web app does not bundle the generated code (proto/test/notify.test.ts checks they match).

/** parley.notify.v1.Level */
export const LEVEL = { UNSPECIFIED: 0, ALL: 1, MENTIONS: 2, NOTHING: 3 } as const;
export type LevelValue = (typeof LEVEL)[keyof typeof LEVEL];

/** parley.notify.v1.Reason: lower is stronger (a person gets the strongest reason that applies). */
export const REASON = { UNSPECIFIED: 0, DIRECT: 1, MENTION: 2, ROOM_MENTION: 3, THREAD_REPLY: 4, ROOM_MESSAGE: 5 } as const;
export type ReasonValue = (typeof REASON)[keyof typeof REASON];

/** parley.notify.v1.Channel */
export const CHANNEL = { UNSPECIFIED: 0, DESKTOP: 1, PUSH: 2, EMAIL: 3 } as const;
export type ChannelValue = (typeof CHANNEL)[keyof typeof CHANNEL];

/** The lower-case names of the REST API and the web app. */
export const LEVEL_NAMES = { [LEVEL.ALL]: "all", [LEVEL.MENTIONS]: "mentions", [LEVEL.NOTHING]: "nothing" } as const;
export const REASON_NAMES = {
  [REASON.DIRECT]: "direct",
  [REASON.MENTION]: "mention",
  [REASON.ROOM_MENTION]: "room_mention",
  [REASON.THREAD_REPLY]: "thread_reply",
  [REASON.ROOM_MESSAGE]: "room_message",
} as const;

/** The email delay's bounds in seconds (Preferences.email_delay_seconds): the service and the edge check them. */
export const EMAIL_DELAY_SECONDS = { min: 60, max: 86_400 } as const;

/** What a person who never changed a setting has (no stored row): the service and the web app start from it. */
export const DEFAULTS = {
  defaultLevel: LEVEL.MENTIONS,
  desktop: true,
  push: true,
  email: true,
  emailDelaySeconds: 900,
  hidePreviews: false,
  sound: true,
} as const;

/** The reasons an email is sent for (missed direct messages and mentions of the person). */
export const EMAIL_REASONS: readonly ReasonValue[] = [REASON.DIRECT, REASON.MENTION];

export interface QuietHours {
  enabled: boolean;
  /** Minutes after midnight, 0-1439; start == end: the whole day. */
  startMinute: number;
  endMinute: number;
  /** IANA time zone; empty: UTC. */
  timeZone: string;
}

/** A person's preferences, as far as the rules need them. */
export interface RulePreferences {
  defaultLevel: LevelValue | number;
  desktop: boolean;
  push: boolean;
  email: boolean;
  emailDelaySeconds: number;
  dnd?: QuietHours;
  pausedUntil?: Date | null;
}

/** A person's setting for one room (none: the default level, not muted). */
export interface RoomSetting {
  level: LevelValue | number;
  mutedUntil?: Date | null;
}

/** What the rules need of a message. */
export interface MessageFacts {
  senderId: string;
  /** A direct or group direct conversation. */
  direct: boolean;
  mentionUserIds: readonly string[];
  /** @room or @here. */
  mentionsEveryone: boolean;
  /** Set on a thread reply. */
  threadRootId?: string;
  /** Whether it is in the room's timeline: not a thread reply, or one also sent to the room. */
  inRoomTimeline: boolean;
}

/** What the rules need of one person about that message. */
export interface PersonFacts {
  userId: string;
  /** Follows the message's thread (thread replies only). */
  followsThread?: boolean;
  room?: RoomSetting | null;
  /** The message's thread muted until then. */
  threadMutedUntil?: Date | null;
  defaultLevel: LevelValue | number;
}

const isAfter = (until: Date | null | undefined, now: Date) => until != null && until.getTime() > now.getTime();

/** Whether a mute set until `until` holds at `now`. */
export function isMuted(until: Date | null | undefined, now: Date): boolean {
  return isAfter(until, now);
}

/**
 * The level that applies to a person in a room: NOTHING while the room is muted; the room's own
 * level, else (not for direct conversations, which notify unless set to NOTHING) their default.
 */
export function effectiveLevel(direct: boolean, room: RoomSetting | null | undefined, defaultLevel: number, now: Date): LevelValue {
  if (room && isMuted(room.mutedUntil, now)) return LEVEL.NOTHING;
  const own = room?.level ?? LEVEL.UNSPECIFIED;
  if (own === LEVEL.ALL || own === LEVEL.MENTIONS || own === LEVEL.NOTHING) return own;
  if (direct) return LEVEL.ALL;
  return defaultLevel === LEVEL.ALL || defaultLevel === LEVEL.NOTHING ? defaultLevel : LEVEL.MENTIONS;
}

/**
 * Why `message` notifies `person` (the strongest reason), or undefined when it does not: never
 * their own message; nothing in a muted room or at level NOTHING; ROOM_MESSAGE only at level ALL
 * (and only for what is in the room's timeline); THREAD_REPLY only for a thread they follow and
 * have not muted (a mention in a muted thread still notifies).
 */
export function reasonFor(message: MessageFacts, person: PersonFacts, now: Date): ReasonValue | undefined {
  if (person.userId === message.senderId) return undefined;
  const level = effectiveLevel(message.direct, person.room, person.defaultLevel, now);
  if (level === LEVEL.NOTHING) return undefined;
  if (message.direct) return REASON.DIRECT;
  if (message.mentionUserIds.includes(person.userId)) return REASON.MENTION;
  if (message.mentionsEveryone) return REASON.ROOM_MENTION;
  if (message.threadRootId && person.followsThread && !isMuted(person.threadMutedUntil, now)) return REASON.THREAD_REPLY;
  if (level === LEVEL.ALL && message.inRoomTimeline) return REASON.ROOM_MESSAGE;
  return undefined;
}

/** The stronger of two reasons (lower number), undefined counting as none. */
export function strongest(a: ReasonValue | undefined, b: ReasonValue | undefined): ReasonValue | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a < b ? a : b;
}

/** The minute of the day (0-1439) at `now` in `timeZone` (Intl; an unknown zone counts as UTC). */
export function minuteOfDay(now: Date, timeZone: string): number {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat("en-US", { timeZone: timeZone || "UTC", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(now);
  } catch {
    parts = new Intl.DateTimeFormat("en-US", { timeZone: "UTC", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(now);
  }
  const hour = Number(parts.find((p) => p.type === "hour")?.value ?? 0) % 24;
  const minute = Number(parts.find((p) => p.type === "minute")?.value ?? 0);
  return hour * 60 + minute;
}

/** Whether `minute` is inside [start, end) on a clock that wraps at midnight (start == end: always). */
export function inWindow(minute: number, start: number, end: number): boolean {
  if (start === end) return true;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

/** Whether do-not-disturb holds at `now`. */
export function inQuietHours(dnd: QuietHours | undefined, now: Date): boolean {
  return !!dnd?.enabled && inWindow(minuteOfDay(now, dnd.timeZone), dnd.startMinute, dnd.endMinute);
}

/**
 * When the person's quiet time (do-not-disturb, pause) that holds at `now` ends, or undefined when
 * none holds. Whole-day quiet hours end a day later (and are asked again then).
 */
export function quietUntil(preferences: Pick<RulePreferences, "dnd" | "pausedUntil">, now: Date): Date | undefined {
  let until: Date | undefined;
  if (isAfter(preferences.pausedUntil, now)) until = preferences.pausedUntil!;
  const dnd = preferences.dnd;
  if (dnd && inQuietHours(dnd, now)) {
    const minute = minuteOfDay(now, dnd.timeZone);
    const minutesLeft = dnd.startMinute === dnd.endMinute ? 1440 : (dnd.endMinute - minute + 1440) % 1440 || 1440;
    const startOfMinute = now.getTime() - (now.getTime() % 60_000);
    const end = new Date(startOfMinute + minutesLeft * 60_000);
    if (!until || end > until) until = end;
  }
  return until;
}

/** Whether the person is in quiet time (do-not-disturb or paused) at `now`. */
export function isQuiet(preferences: Pick<RulePreferences, "dnd" | "pausedUntil">, now: Date): boolean {
  return quietUntil(preferences, now) !== undefined;
}

/** Which channels a notification of `reason` goes to now (the worker claims these). */
export interface ChannelPlan {
  desktop: boolean;
  push: boolean;
  email: boolean;
  /** When the email may go (the delay after the message, and after quiet time ends). */
  emailDueAt?: Date;
}

/**
 * The channels of a notification: desktop and push when the person has them on and is not in
 * quiet time (skipped, not delayed); email (where the server sends email) for direct messages and
 * mentions of them, due the email delay after the message and not before quiet time ends.
 */
export function channelsFor(
  reason: ReasonValue | undefined,
  preferences: RulePreferences,
  createdAt: Date,
  now: Date,
  server: { email: boolean },
): ChannelPlan {
  if (reason === undefined) return { desktop: false, push: false, email: false };
  const quiet = isQuiet(preferences, now);
  const email = server.email && preferences.email && EMAIL_REASONS.includes(reason);
  let emailDueAt: Date | undefined;
  if (email) {
    const afterDelay = new Date(createdAt.getTime() + preferences.emailDelaySeconds * 1000);
    const quietEnd = quietUntil(preferences, afterDelay > now ? afterDelay : now);
    emailDueAt = quietEnd && quietEnd > afterDelay ? quietEnd : afterDelay;
  }
  return { desktop: preferences.desktop && !quiet, push: preferences.push && !quiet, email, ...(emailDueAt && { emailDueAt }) };
}

/**
 * Whether a claimed delivery may still go at `now` (re-checked at dispatch): the channel still on,
 * not in quiet time for desktop and push (email waits for it: see `deferEmailUntil`).
 */
export function channelStillOn(channel: ChannelValue, preferences: RulePreferences, now: Date): boolean {
  if (channel === CHANNEL.DESKTOP) return preferences.desktop && !isQuiet(preferences, now);
  if (channel === CHANNEL.PUSH) return preferences.push && !isQuiet(preferences, now);
  if (channel === CHANNEL.EMAIL) return preferences.email;
  return false;
}

/** When a due email must wait for the end of quiet time, that time; else undefined (send now). */
export function deferEmailUntil(preferences: RulePreferences, now: Date): Date | undefined {
  return quietUntil(preferences, now);
}

/** The badge of a room in the web app: what its unread messages show. */
export type Badge = "unread" | "mentions" | "quiet";

/**
 * A room at level ALL shows its unread count, and so does a direct conversation at any level but
 * NOTHING (every message of it is a direct message, which notifies at MENTIONS too); at MENTIONS
 * only a room's mentions (and thread replies) count; NOTHING or muted: no badge at all.
 */
export function badgeFor(direct: boolean, room: RoomSetting | null | undefined, defaultLevel: number, now: Date): Badge {
  const level = effectiveLevel(direct, room, defaultLevel, now);
  if (level === LEVEL.NOTHING) return "quiet";
  return level === LEVEL.ALL || direct ? "unread" : "mentions";
}
