// "My rooms" for the sidebar, composed at the edge: the room service lists the caller's rooms and
// memberships, the message service adds each room's last seq, unread count and newest message's
// time and mention count (GetRoomStats, from the memberships' last_read_seq). Neither service calls the other for it.
import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import type { Logger } from "@parley/kit";
import type { RoomStats } from "@parley/proto/message/v1/message_pb";
import { RoomSummarySchema, type RoomSummary } from "@parley/proto/room/v1/room_pb";
import { BATCHES } from "@parley/proto/rules";
import type { ServiceClients } from "./services.js";

/** GetRoomStats takes at most this many rooms per call. */
const STATS_BATCH = BATCHES.roomStats;
/** The sidebar waits this long for unread counts before it shows the rooms without them. */
const STATS_TIMEOUT_MS = 2_000;

type CallOptions = { headers: Record<string, string> };

/**
 * The caller's rooms, most recent activity first: the newest message, or when the caller joined
 * (created) if that is later, so that a room just joined or a conversation without messages sorts
 * by that moment. Without the message service (an error or STATS_TIMEOUT_MS) the rooms come
 * without counts, and a warning is logged; without the room service the call fails.
 */
export async function listMyRooms(
  services: Pick<ServiceClients, "rooms" | "messages">,
  options: CallOptions,
  log: Logger,
): Promise<RoomSummary[]> {
  const { rooms } = await services.rooms.listMyRooms({}, options);
  const stats = await roomStats(services, rooms, options, log);
  const summaries = rooms.map((entry) => {
    const stat = stats.get(entry.room?.id ?? "");
    const joined = entry.membership?.joinTime;
    const lastMessage = stat?.lastActivityTime;
    const activity: Timestamp | undefined =
      lastMessage && (!joined || timestampMs(lastMessage) > timestampMs(joined)) ? lastMessage : joined;
    const summary = create(RoomSummarySchema, {
      room: entry.room,
      membership: entry.membership,
      lastSeq: stat?.lastSeq ?? 0n,
      unreadCount: stat?.unreadCount ?? 0n,
      mentionCount: stat?.mentionCount ?? 0n,
      unreadThreadCount: stat?.unreadThreadCount ?? 0n,
      lastActivityTime: activity,
    });
    return { summary, activityMs: activity ? timestampMs(activity) : 0 };
  });
  summaries.sort((a, b) => b.activityMs - a.activityMs || compare(b.summary.room?.id ?? "", a.summary.room?.id ?? ""));
  return summaries.map((s) => s.summary);
}

/** The rooms' ids as the message service's calls across rooms take them (ListThreads, ListMentions: at most a batch). */
export function roomIdsOf(rooms: RoomSummary[]): string[] {
  return rooms.flatMap((r) => (r.room ? [r.room.id] : [])).slice(0, STATS_BATCH);
}

async function roomStats(
  services: Pick<ServiceClients, "messages">,
  rooms: RoomSummary[],
  options: CallOptions,
  log: Logger,
): Promise<Map<string, RoomStats>> {
  const stats = new Map<string, RoomStats>();
  const positions = rooms.flatMap((r) => (r.room ? [{ roomId: r.room.id, lastReadSeq: r.membership?.lastReadSeq ?? 0n }] : []));
  if (positions.length === 0) return stats;
  const batches: (typeof positions)[] = [];
  for (let i = 0; i < positions.length; i += STATS_BATCH) batches.push(positions.slice(i, i + STATS_BATCH));
  try {
    const answers = await Promise.all(
      batches.map((batch) => services.messages.getRoomStats({ rooms: batch }, { ...options, timeoutMs: STATS_TIMEOUT_MS })),
    );
    for (const answer of answers) for (const stat of answer.stats) stats.set(stat.roomId, stat);
  } catch (error) {
    log.warn({ err: error }, "message service did not answer: rooms listed without unread counts");
    stats.clear();
  }
  return stats;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
