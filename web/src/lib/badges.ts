// The sidebar's badge of a room (issue 18), by the rule the notification worker follows too: a room
// at level ALL shows its unread count, at MENTIONS its mention count, at NOTHING or muted nothing
// (and a muted room is dimmed). A direct conversation at the default level counts every message
// (direct messages notify by default).
import { describeUntil } from "./notify-time";

export type LevelName = "all" | "mentions" | "nothing";

export interface Badge {
  kind: "unread" | "mentions" | "quiet";
  /** The number shown (0 for quiet). */
  count: number;
  /** The room has unread messages (its name stays bold) even when the badge is quiet for them. */
  unread: boolean;
  muted: boolean;
}

export function effectiveLevel(room: { visibility: string }, roomLevel: LevelName | "default", defaultLevel: LevelName): LevelName {
  if (roomLevel !== "default") return roomLevel;
  return room.visibility === "direct" && defaultLevel !== "nothing" ? "all" : defaultLevel;
}

export function roomBadge(room: { unreadCount: number; mentionCount: number; visibility: string }, level: LevelName, muted: boolean): Badge {
  if (muted || level === "nothing") return { kind: "quiet", count: 0, unread: false, muted };
  if (level === "all") return { kind: "unread", count: room.unreadCount, unread: room.unreadCount > 0, muted };
  return { kind: "mentions", count: room.mentionCount, unread: room.unreadCount > 0, muted };
}

export const LEVEL_LABELS: Record<LevelName, string> = {
  all: "All messages",
  mentions: "Mentions and direct messages",
  nothing: "Nothing",
};

/** What the room's bell says: its level, or that it is muted. */
export function roomNotifySummary(level: LevelName | "default", mutedUntil: string | null, defaultLevel: LevelName, now: number): string {
  if (mutedUntil) return `Muted ${describeUntil(mutedUntil, now)}`;
  return level === "default" ? `Default (${LEVEL_LABELS[defaultLevel].toLowerCase()})` : LEVEL_LABELS[level];
}
