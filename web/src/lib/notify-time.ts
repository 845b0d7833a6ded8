// Times of the notification settings (issue 18): mutes and pauses ("for 1 hour", "until tomorrow",
// "until I unmute"), do-not-disturb hours as minutes after midnight, and time zones, with Intl only.

/** A mute "until I unmute" is one until 9999-12-31 (the contract's far-ahead time). */
export const FOREVER = new Date(Date.UTC(9999, 11, 31, 23, 59, 59)).toISOString();

export const isForever = (iso: string | null | undefined): boolean => !!iso && Date.parse(iso) >= Date.UTC(9999, 0, 1);

/** Whether a mute or pause is in force at `now`. */
export function activeUntil(iso: string | null | undefined, now = Date.now()): boolean {
  if (!iso) return false;
  const at = Date.parse(iso);
  return Number.isFinite(at) && at > now;
}

export type MutePreset = "1h" | "8h" | "forever";

export function muteUntil(preset: MutePreset, now = Date.now()): string {
  if (preset === "forever") return FOREVER;
  return new Date(now + (preset === "1h" ? 1 : 8) * 3_600_000).toISOString();
}

/** The browser's time zone (the default for do-not-disturb hours). */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** Every IANA time zone the browser knows, with `include` (a saved one) and UTC among them. */
export function timeZones(include: string[] = []): string[] {
  let known: string[] = [];
  try {
    known = (Intl as unknown as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  } catch {
    known = [];
  }
  return [...new Set([...known, "UTC", ...include.filter(Boolean)])].sort((a, b) => a.localeCompare(b));
}

/** The wall-clock fields of an instant in a time zone. */
function partsIn(at: number, timeZone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  });
  const parts: Record<string, number> = {};
  for (const part of format.formatToParts(new Date(at))) if (part.type !== "literal") parts[part.type] = Number(part.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour! % 24, minute: parts.minute!, second: parts.second! };
}

/** The instant at which the wall clock of `timeZone` shows the given date and time (the first one, across a DST change). */
export function zonedInstant(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): number {
  const wanted = Date.UTC(year, month - 1, day, hour, minute);
  let guess = wanted;
  for (let i = 0; i < 3; i++) {
    const p = partsIn(guess, timeZone);
    const shown = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    const drift = shown - wanted;
    if (drift === 0) break;
    guess -= drift;
  }
  return guess;
}

/** "Until tomorrow": 08:00 of the next day in the person's time zone. */
export function tomorrowMorning(now = Date.now(), timeZone = browserTimeZone()): string {
  const today = partsIn(now, timeZone);
  const next = new Date(Date.UTC(today.year, today.month - 1, today.day + 1));
  return new Date(zonedInstant(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), 8, 0, timeZone)).toISOString();
}

/** Minutes after midnight as "HH:MM" (an <input type="time"> value). */
export function minutesToTime(minutes: number): string {
  const m = ((Math.trunc(minutes) % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
}

/** "HH:MM" as minutes after midnight; undefined for anything else. */
export function timeToMinutes(value: string): number | undefined {
  const match = /^(\d{1,2}):(\d{2})$/.exec(value.trim());
  if (!match) return undefined;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  if (hours > 23 || minutes > 59) return undefined;
  return hours * 60 + minutes;
}

/** "until 14:30", "until Tue 08:00", "until you unmute it": when a mute or pause ends, for people. */
export function describeUntil(iso: string, now = Date.now(), locale?: string): string {
  if (isForever(iso)) return "until you turn it back on";
  const at = new Date(iso);
  const sameDay = new Date(now).toDateString() === at.toDateString();
  const time = at.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  return sameDay ? `until ${time}` : `until ${at.toLocaleDateString(locale, { weekday: "short" })} ${time}`;
}
