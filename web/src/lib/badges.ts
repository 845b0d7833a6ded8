// The sidebar's badge of a room (issue 18), by the rule the notification worker follows too: a room
// at level ALL shows its unread count, at MENTIONS its mention count, at NOTHING or muted nothing
// (and a muted room is dimmed). A direct conversation at the default level counts every message
// (direct messages notify by default).
import { badgeFor, isMuted, LEVEL } from "@parley/proto/rules/notify";

import { describeUntil } from "./notify-time";

export type LevelName = "all" | "mentions" | "nothing";

export interface Badge {
  kind: "unread" | "mentions" | "quiet";
  /** The number that notifies: the unread count (unread), the mention count (mentions), 0 (quiet). */
  count: number;
  /** The room has unread messages (its name stays bold) and is not quiet. */
  unread: boolean;
  muted: boolean;
}

const LEVEL_OF: Record<LevelName | "default", number> = { default: LEVEL.UNSPECIFIED, all: LEVEL.ALL, mentions: LEVEL.MENTIONS, nothing: LEVEL.NOTHING };

/**
 * A room's badge by the rule of @parley/proto/rules/notify (badgeFor, the worker's rule too): a
 * room at level ALL, and a direct conversation, show their unread count; at MENTIONS the mention
 * count; NOTHING or muted are quiet.
 */
export function roomBadge(
  room: { unreadCount: number; mentionCount: number; visibility: string },
  setting: { level: LevelName | "default"; mutedUntil: string | null } | undefined,
  defaultLevel: LevelName,
  now: number,
): Badge {
  const at = new Date(now);
  const mutedUntil = setting?.mutedUntil ? new Date(setting.mutedUntil) : null;
  const muted = isMuted(mutedUntil, at);
  const kind = badgeFor(room.visibility === "direct", setting ? { level: LEVEL_OF[setting.level], mutedUntil } : null, LEVEL_OF[defaultLevel], at);
  if (kind === "quiet") return { kind, count: 0, unread: false, muted };
  return { kind, count: kind === "unread" ? room.unreadCount : room.mentionCount, unread: room.unreadCount > 0, muted };
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
