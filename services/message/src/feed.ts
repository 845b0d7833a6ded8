// The notification worker's feed (issue 18): which rooms had messages lately, a room's messages
// after a seq, and a thread's followers. Only the notify process may call these (onlyFrom in
// server.ts): they answer for no user, so they check no membership.
import { fail, toTimestamp, validate, type CallContext } from "@parley/kit";
import type {
  ListNewMessagesRequest,
  ListRoomHeadsRequest,
  ListThreadFollowersRequest,
} from "@parley/proto/message/v1/message_pb";
import { fields } from "@parley/proto/rules/zod";
import { z } from "zod";
import type { MessageDb } from "./db.js";
import { Message } from "./entities.js";
import { MESSAGE_COLUMNS } from "./repositories.js";

const HEADS = { default: 500, max: 1000 };
const NEW_MESSAGES = { default: 100, max: 500 };

const HEADS_SQL = `
select room_id, last_seq, last_activity_at from room_heads
where last_activity_at >= ?::timestamptz and (last_activity_at, room_id) > (?::timestamptz, ?::uuid)
order by last_activity_at, room_id limit ?`;

// Every message of the room after the seq, thread replies included, bounded by the room's head
// (everything up to it has committed, so a page never skips a seq that commits later).
const NEW_MESSAGES_SQL = `
select ${MESSAGE_COLUMNS} from messages
where room_id = ?::uuid and seq > ?::bigint
  and seq <= (select last_seq from room_heads where room_id = ?::uuid)
order by seq asc limit ?`;

const FOLLOWERS_SQL = `select user_id, last_read_seq from thread_follows where root_id = ?::uuid and following order by user_id`;

const NO_CURSOR = { at: new Date(0).toISOString(), roomId: "00000000-0000-0000-0000-000000000000" };

export class MessageFeed {
  constructor(
    private readonly db: MessageDb,
    private readonly toMessages: (rows: Message[]) => Promise<unknown[]>,
  ) {}

  async listRoomHeads(request: ListRoomHeadsRequest, _ctx: CallContext) {
    if (!request.since) throw fail.invalidArgument("since", "is required");
    const limit = bounded("limit", request.limit, HEADS);
    const since = new Date(Number(request.since.seconds) * 1000 + Math.floor(request.since.nanos / 1e6));
    const after = request.pageToken ? decodeHeadToken(request.pageToken) : NO_CURSOR;
    const { em } = this.db.fork();
    const rows = await em.execute<{ room_id: string; last_seq: string; last_activity_at: Date | string }[]>(HEADS_SQL, [
      since.toISOString(),
      after.at,
      after.roomId,
      limit + 1,
    ]);
    const page = rows.slice(0, limit).map((row) => ({ roomId: row.room_id, lastSeq: BigInt(row.last_seq), at: new Date(row.last_activity_at) }));
    const last = page.at(-1);
    return {
      heads: page.map((head) => ({ roomId: head.roomId, lastSeq: head.lastSeq, lastActivityTime: toTimestamp(head.at.getTime()) })),
      nextPageToken: rows.length > limit && last ? encodeHeadToken(last.at.toISOString(), last.roomId) : "",
    };
  }

  async listNewMessages(request: ListNewMessagesRequest, _ctx: CallContext) {
    const { room_id: roomId } = validate(z.object({ room_id: fields.id }), { room_id: request.roomId });
    if (request.afterSeq < 0n) throw fail.invalidArgument("after_seq", "must not be negative");
    const limit = bounded("limit", request.limit, NEW_MESSAGES);
    const { em } = this.db.fork();
    const rows = await em.execute<Record<string, unknown>[]>(NEW_MESSAGES_SQL, [roomId, request.afterSeq.toString(), roomId, limit + 1]);
    const messages = rows.slice(0, limit).map((row) => em.map(Message, row));
    return { messages: (await this.toMessages(messages)) as never, hasMore: rows.length > limit };
  }

  async listThreadFollowers(request: ListThreadFollowersRequest, _ctx: CallContext) {
    const { thread_root_id: rootId } = validate(z.object({ thread_root_id: fields.id }), { thread_root_id: request.threadRootId });
    const { em } = this.db.fork();
    const rows = await em.execute<{ user_id: string; last_read_seq: string }[]>(FOLLOWERS_SQL, [rootId]);
    return { followers: rows.map((row) => ({ userId: row.user_id, lastReadSeq: BigInt(row.last_read_seq) })) };
  }
}

function bounded(field: string, value: number, limits: { default: number; max: number }): number {
  if (value === 0) return limits.default;
  if (value < 0 || value > limits.max) throw fail.invalidArgument(field, `must be 1-${limits.max} (0 for ${limits.default})`);
  return value;
}

function encodeHeadToken(at: string, roomId: string): string {
  return Buffer.from(`${at}|${roomId}`).toString("base64url");
}

function decodeHeadToken(token: string): { at: string; roomId: string } {
  const [at, roomId] = Buffer.from(token, "base64url").toString().split("|");
  const parsed = new Date(at ?? "");
  if (!roomId || !/^[0-9a-f-]{36}$/i.test(roomId) || Number.isNaN(parsed.getTime())) {
    throw fail.invalidArgument("page_token", "is not a token from a previous page");
  }
  return { at: parsed.toISOString(), roomId };
}
