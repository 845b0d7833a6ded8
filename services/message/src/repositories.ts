// The message service's repositories, built over one fork by initORM's data access (see
// services/kit/src/db.ts). Every seq is assigned here, in the transaction that stores its
// message; reads are bounded by the room head they read first.
import { LockMode, UniqueConstraintViolationException } from "@mikro-orm/core";
import { EntityRepository } from "@parley/kit";
import { Message, MessageVersion, RoomHead } from "./entities.js";

const SENDER_CLIENT_MSG_ID_UNIQUE = "messages_sender_id_client_msg_id_unique";

/**
 * One statement: take the room's next seq and store the message with it.
 * The upsert locks the room_heads row until COMMIT, so senders of one room go
 * one at a time and each sees the seq its predecessor committed; a rollback
 * (say, a duplicate client_msg_id) undoes the increment, so no seq is ever
 * skipped. clock_timestamp() is read after the lock is granted and never goes
 * below the previous message's time: created_at follows seq.
 */
const APPEND_SQL = `
with head as (
  insert into room_heads as h (room_id, last_seq, last_change, last_activity_at)
  values (?::uuid, 1, 1, date_trunc('milliseconds', clock_timestamp()))
  on conflict (room_id) do update
    set last_seq = h.last_seq + 1,
        last_change = h.last_change + 1,
        last_activity_at = greatest(h.last_activity_at, date_trunc('milliseconds', clock_timestamp()))
  returning last_seq, last_change, last_activity_at
)
insert into messages (id, room_id, seq, change, sender_id, body, client_msg_id, reply_to_id, created_at)
select ?::uuid, ?::uuid, head.last_seq, head.last_change, ?::uuid, ?::text, ?::varchar, ?::uuid, head.last_activity_at
from head
returning *`;

/**
 * The room's next stream position for an edit or a delete, in the change's transaction: the
 * row lock (held until COMMIT, as for a send) orders the room's changes by commit, and a
 * rollback gives the position back, so the lane has no gaps.
 */
const NEXT_CHANGE_SQL = `update room_heads set last_change = last_change + 1 where room_id = ?::uuid returning last_change`;

/**
 * The message lane after a position, up to the head read first: each message once, at its
 * latest change, in change order; a range scan of (room_id, change).
 */
export const CHANGES_SQL = `select * from messages where room_id = ?::uuid and change > ?::bigint and change <= ?::bigint order by change asc limit ?`;

/** The position just before the first message after a seq (what a deprecated after_seq resumes from). */
export const CHANGE_BEFORE_SEQ_SQL = `select min(change) - 1 as change from messages where room_id = ?::uuid and seq > ?::bigint`;

/**
 * Per requested room: its head, and the messages after the read position that
 * are neither deleted nor the caller's. One query for every room; each count
 * is a range scan of (room_id, seq) bounded by the head.
 */
export const STATS_SQL = `
select r.i,
       h.last_seq,
       h.last_change,
       (extract(epoch from h.last_activity_at) * 1000)::bigint as last_activity_ms,
       case when h.last_seq > r.last_read_seq then (
         select count(*) from messages m
         where m.room_id = r.room_id and m.seq > r.last_read_seq and m.seq <= h.last_seq
           and m.deleted_at is null and m.sender_id <> ?::uuid
       ) else 0 end as unread_count
from jsonb_to_recordset(?::jsonb) as r(i int, room_id uuid, last_read_seq bigint)
left join room_heads h on h.room_id = r.room_id`;

/** The newest `limit` messages below a seq: a backward range scan of (room_id, seq). */
export const OLDER_SQL = `select * from messages where room_id = ?::uuid and seq < ?::bigint order by seq desc limit ?`;

/** The oldest `limit` messages from a seq up to the head: a forward range scan of (room_id, seq). */
export const NEWER_SQL = `select * from messages where room_id = ?::uuid and seq >= ?::bigint and seq <= ?::bigint order by seq asc limit ?`;

/** How many user ids a reaction lists (its count is exact). */
export const REACTION_USERS_LISTED = 50;

/** Every reaction of a set of messages, grouped per (message, emoji), in order of first use. */
const REACTIONS_SQL = `
select r.message_id, r.emoji, count(*) as count,
       (array_agg(r.user_id::text order by r.created_at, r.user_id))[1:${REACTION_USERS_LISTED}] as user_ids
from message_reactions r
where r.message_id in (select value::uuid from jsonb_array_elements_text(?::jsonb))
group by r.message_id, r.emoji
order by r.message_id, min(r.created_at), r.emoji`;

export interface ReactionRow {
  emoji: string;
  count: number;
  userIds: string[];
}

/** A room's pinned messages, newest pin first: a scan of the partial index messages_room_id_pinned_at_index. */
export const PINS_SQL = `select * from messages where room_id = ?::uuid and pinned_at is not null order by pinned_at desc, id desc limit ?`;
export const PINS_AFTER_SQL = `select * from messages where room_id = ?::uuid and pinned_at is not null
  and (pinned_at, id) < (?::timestamptz, ?::uuid) order by pinned_at desc, id desc limit ?`;

export interface NewMessage {
  id: string;
  roomId: string;
  senderId: string;
  body: string;
  clientMsgId: string;
  replyToId: string | null;
}

export interface RoomReadPosition {
  roomId: string;
  lastReadSeq: bigint;
}

export interface RoomStatsRow {
  roomId: string;
  lastSeq: bigint;
  lastChange: bigint;
  unreadCount: bigint;
  lastActivityAt?: Date;
}

/** What a change did: `changed` is false when the message already was that way. */
export interface Change {
  message: Message;
  changed: boolean;
}

export class DuplicateClientMsgId extends Error {
  override name = "DuplicateClientMsgId";
}

export class MessageGone extends Error {
  override name = "MessageGone";
}

export class MessageRepository extends EntityRepository<Message> {
  /**
   * Stores a message with its room's next seq; DuplicateClientMsgId if (sender, client_msg_id) is taken.
   * One autocommitted statement (head upsert and insert together): atomic on its own, so a failed
   * insert gives the seq back, and one round trip instead of begin/statement/commit.
   */
  async append(message: NewMessage): Promise<Message> {
    const em = this.em;
    try {
      const [row] = await em.execute<Record<string, unknown>[]>(APPEND_SQL, [
        message.roomId,
        message.id,
        message.roomId,
        message.senderId,
        message.body,
        message.clientMsgId,
        message.replyToId,
      ]);
      return em.map(Message, row!);
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException && error.message.includes(SENDER_CLIENT_MSG_ID_UNIQUE)) {
        throw new DuplicateClientMsgId(message.clientMsgId, { cause: error });
      }
      throw error;
    }
  }

  findById(id: string): Promise<Message | null> {
    return this.em.findOne(Message, { id });
  }

  findByClientMsgId(senderId: string, clientMsgId: string): Promise<Message | null> {
    return this.em.findOne(Message, { senderId, clientMsgId });
  }

  /** The text as first sent, or undefined once deleted (the text is gone). */
  async sentBody(message: Message): Promise<string | undefined> {
    if (message.deletedAt) return undefined;
    if (!message.editedAt) return message.body;
    const first = await this.em.findOne(MessageVersion, { messageId: message.id, version: 1 });
    return first?.body;
  }

  /** Every earlier text of the message, newest first (emptied ones, of a deleted message, are left out). */
  versions(messageId: string): Promise<MessageVersion[]> {
    return this.em.find(MessageVersion, { messageId }, { orderBy: { version: "desc" } });
  }

  /** Up to `count` messages with seq < `belowSeq`, newest first. */
  async older(roomId: string, belowSeq: bigint, count: number): Promise<Message[]> {
    if (count <= 0 || belowSeq <= 1n) return [];
    const em = this.em;
    const rows = await em.execute<Record<string, unknown>[]>(OLDER_SQL, [roomId, belowSeq.toString(), count]);
    return rows.map((row) => em.map(Message, row));
  }

  /** Up to `count` messages with fromSeq <= seq <= uptoSeq, oldest first. */
  async newer(roomId: string, fromSeq: bigint, uptoSeq: bigint, count: number): Promise<Message[]> {
    if (count <= 0 || fromSeq > uptoSeq) return [];
    const em = this.em;
    const rows = await em.execute<Record<string, unknown>[]>(NEWER_SQL, [roomId, fromSeq.toString(), uptoSeq.toString(), count]);
    return rows.map((row) => em.map(Message, row));
  }

  /** Up to `count` messages whose latest change is in (afterChange, uptoChange], in change order. */
  async changes(roomId: string, afterChange: bigint, uptoChange: bigint, count: number): Promise<Message[]> {
    if (count <= 0 || afterChange >= uptoChange) return [];
    const em = this.em;
    const rows = await em.execute<Record<string, unknown>[]>(CHANGES_SQL, [roomId, afterChange.toString(), uptoChange.toString(), count]);
    return rows.map((row) => em.map(Message, row));
  }

  /** The stream position from which every message with seq > afterSeq is a change after it (the head if there is none). */
  async changeBeforeSeq(roomId: string, afterSeq: bigint, head: bigint): Promise<bigint> {
    const [row] = await this.em.execute<{ change: string | null }[]>(CHANGE_BEFORE_SEQ_SQL, [roomId, afterSeq.toString()]);
    return row?.change != null ? BigInt(row.change) : head;
  }

  /** Takes the room's next stream position for the message (in the change's transaction, after its row lock). */
  private async takeChange(message: Message): Promise<void> {
    const [row] = await this.em.execute<{ last_change: string }[]>(NEXT_CHANGE_SQL, [message.roomId]);
    message.change = BigInt(row!.last_change);
  }

  /**
   * Replaces the body, keeping the previous text as the next version; MessageGone if deleted
   * meanwhile. In a transaction (db.transactional): it locks the message row, then the room head.
   */
  async edit(id: string, body: string, now: Date): Promise<Change> {
    const message = await this.em.findOneOrFail(Message, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (message.deletedAt) throw new MessageGone(id);
    if (message.body === body) return { message, changed: false };
    await this.takeChange(message);
    const [last] = await this.em.execute<{ version: number | null }[]>(
      `select max(version) as version from message_versions where message_id = ?::uuid`,
      [id],
    );
    this.em.create(MessageVersion, {
      messageId: id,
      version: (last?.version ?? 0) + 1,
      body: message.body,
      createdAt: message.editedAt ?? message.createdAt,
    });
    message.body = body;
    message.editedAt = now;
    return { message, changed: true };
  }

  /** Empties the message and every earlier version of it, keeping id and seq. In a transaction, like edit. */
  async tombstone(id: string, now: Date): Promise<Change> {
    const message = await this.em.findOneOrFail(Message, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (message.deletedAt) return { message, changed: false };
    await this.takeChange(message);
    message.body = "";
    message.deletedAt = now;
    // A deleted message leaves the room's pins.
    message.pinnedAt = null;
    message.pinnedById = null;
    await this.em.nativeUpdate(MessageVersion, { messageId: id }, { body: "" });
    return { message, changed: true };
  }

  // --- reactions ---
  /**
   * Adds (or removes) the user's reaction and, when that changed anything, takes the room's next
   * stream position for the message. In a transaction: it locks the message row, then the room head.
   */
  async react(id: string, userId: string, emoji: string, add: boolean, now: Date): Promise<Change> {
    const message = await this.em.findOneOrFail(Message, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (message.deletedAt) throw new MessageGone(id);
    const rows = add
      ? await this.em.execute<unknown[]>(
          `insert into message_reactions (message_id, emoji, user_id, created_at) values (?::uuid, ?::varchar, ?::uuid, ?) on conflict do nothing returning message_id`,
          [id, emoji, userId, now],
        )
      : await this.em.execute<unknown[]>(
          `delete from message_reactions where message_id = ?::uuid and emoji = ?::varchar and user_id = ?::uuid returning message_id`,
          [id, emoji, userId],
        );
    if (rows.length === 0) return { message, changed: false };
    await this.takeChange(message);
    return { message, changed: true };
  }

  /** The reactions of each message, by message id; each emoji in order of first use, its first users. */
  async reactionsOf(messageIds: readonly string[]): Promise<Map<string, ReactionRow[]>> {
    const byMessage = new Map<string, ReactionRow[]>();
    if (messageIds.length === 0) return byMessage;
    const rows = await this.em.execute<{ message_id: string; emoji: string; count: string | number; user_ids: string[] }[]>(
      REACTIONS_SQL,
      [JSON.stringify(messageIds)],
    );
    for (const row of rows) {
      const list = byMessage.get(row.message_id) ?? [];
      list.push({ emoji: row.emoji, count: Number(row.count), userIds: row.user_ids });
      byMessage.set(row.message_id, list);
    }
    return byMessage;
  }

  /**
   * Pins or unpins (pinnedBy null) the message, taking its next stream position; MessageGone if
   * deleted meanwhile. In a transaction, like edit.
   */
  async setPin(id: string, pinnedBy: string | null, now: Date): Promise<Change> {
    const message = await this.em.findOneOrFail(Message, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (message.deletedAt) throw new MessageGone(id);
    if ((message.pinnedAt != null) === (pinnedBy != null)) return { message, changed: false };
    await this.takeChange(message);
    message.pinnedAt = pinnedBy ? now : null;
    message.pinnedById = pinnedBy;
    return { message, changed: true };
  }

  /** Up to `count` pinned messages of the room, newest pin first, after the (pinnedAt, id) cursor. */
  async pins(roomId: string, after: { pinnedAt: Date; id: string } | null, count: number): Promise<Message[]> {
    const em = this.em;
    const rows = after
      ? await em.execute<Record<string, unknown>[]>(PINS_AFTER_SQL, [roomId, after.pinnedAt, after.id, count])
      : await em.execute<Record<string, unknown>[]>(PINS_SQL, [roomId, count]);
    return rows.map((row) => em.map(Message, row));
  }

  /** Stats of every position, in request order. */
  async stats(positions: RoomReadPosition[], callerId: string): Promise<RoomStatsRow[]> {
    if (positions.length === 0) return [];
    const input = positions.map((p, i) => ({ i, room_id: p.roomId, last_read_seq: p.lastReadSeq.toString() }));
    const rows = await this.em.execute<
      { i: number; last_seq: string | null; last_change: string | null; last_activity_ms: string | null; unread_count: string | number }[]
    >(STATS_SQL, [callerId, JSON.stringify(input)]);
    const byIndex = new Map(rows.map((row) => [Number(row.i), row]));
    return positions.map((position, i) => {
      const row = byIndex.get(i);
      return {
        roomId: position.roomId,
        lastSeq: BigInt(row?.last_seq ?? 0),
        lastChange: BigInt(row?.last_change ?? 0),
        unreadCount: BigInt(row?.unread_count ?? 0),
        lastActivityAt: row?.last_activity_ms != null ? new Date(Number(row.last_activity_ms)) : undefined,
      };
    });
  }
}

export class RoomHeadRepository extends EntityRepository<RoomHead> {
  /** The room's last seq (0 for a room without messages) and the time of its newest message. */
  async head(roomId: string): Promise<{ lastSeq: bigint; lastChange: bigint; lastActivityAt?: Date }> {
    const head = await this.em.findOne(RoomHead, { roomId });
    return head
      ? { lastSeq: BigInt(head.lastSeq), lastChange: BigInt(head.lastChange), lastActivityAt: head.lastActivityAt }
      : { lastSeq: 0n, lastChange: 0n };
  }
}
