// The message service's repositories, built over one fork by initORM's data access (see
// services/kit/src/db.ts). Every seq is assigned here, in the transaction that stores its
// message; reads are bounded by the room head they read first.
import { LockMode, UniqueConstraintViolationException } from "@mikro-orm/core";
import { EntityRepository, type Em } from "@parley/kit";
import { Message, MessageVersion, RoomHead, ThreadFollow } from "./entities.js";

const SENDER_CLIENT_MSG_ID_UNIQUE = "messages_sender_id_client_msg_id_unique";

/**
 * The columns a Message is read from: every column but the search ones (search_vector, has_link:
 * issue 17), which only the search query reads, so that a page of history does not carry them.
 */
const COLUMN_NAMES = "id, room_id, seq, change, sender_id, body, client_msg_id, reply_to_id, created_at, edited_at, deleted_at, pinned_at, pinned_by_id, thread_root_id, also_sent_to_room, reply_count, last_reply_at, last_reply_seq, thread_participant_ids, mention_user_ids, mention_broadcast".split(", ");
export const MESSAGE_COLUMNS = COLUMN_NAMES.join(", ");
/** The same, of the table aliased `m`. */
export const M_COLUMNS = COLUMN_NAMES.map((c) => `m.${c}`).join(", ");

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
), stored as (
  insert into messages (id, room_id, seq, change, sender_id, body, client_msg_id, reply_to_id, thread_root_id, also_sent_to_room, created_at, mention_user_ids, mention_broadcast)
  select ?::uuid, ?::uuid, head.last_seq, head.last_change, ?::uuid, ?::text, ?::varchar, ?::uuid, ?::uuid, ?::boolean, head.last_activity_at, ?::jsonb, ?::smallint
  from head
  returning ${MESSAGE_COLUMNS}
), mentioned as (
  insert into message_mentions (message_id, user_id, room_id, seq)
  select stored.id, u.value::uuid, stored.room_id, stored.seq from stored, jsonb_array_elements_text(stored.mention_user_ids) as u
)
select * from stored`;

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
export const CHANGES_SQL = `select ${MESSAGE_COLUMNS} from messages where room_id = ?::uuid and change > ?::bigint and change <= ?::bigint order by change asc limit ?`;

/** The position just before the first message after a seq (what a deprecated after_seq resumes from). */
export const CHANGE_BEFORE_SEQ_SQL = `select min(change) - 1 as change from messages where room_id = ?::uuid and seq > ?::bigint`;

/**
 * Per requested room: its head, and the messages after the read position that
 * are neither deleted nor the caller's, nor thread replies kept out of the room's timeline.
 * One query for every room; each count is a range scan of (room_id, seq) bounded by the head.
 * unread_thread_count: the threads of the room the caller follows with replies after their thread
 * marker that are neither deleted nor theirs (issue 16). The mention count (issue 16) is those of
 * the unread messages that mention the caller or are @room / @here: the caller's rows of message_mentions
 * ((user_id, room_id, seq) index) and the room's broadcasts (partial (room_id, seq) index) after
 * the marker (a broadcast that also names the caller counted once, as a broadcast), each looked up
 * by (room_id, seq): it costs the mentions, not the unread messages.
 */
export const STATS_SQL = `
select r.i,
       h.last_seq,
       h.last_change,
       (extract(epoch from h.last_activity_at) * 1000)::bigint as last_activity_ms,
       case when h.last_seq > r.last_read_seq then (
         select count(*) from messages m
         where m.room_id = r.room_id and m.seq > r.last_read_seq and m.seq <= h.last_seq
           and m.deleted_at is null and m.sender_id <> c.caller_id
           and (m.thread_root_id is null or m.also_sent_to_room)
       ) else 0 end as unread_count,
       case when h.last_seq > r.last_read_seq then (
         select count(*) from messages b
         where b.room_id = r.room_id and b.mention_broadcast > 0 and b.seq > r.last_read_seq and b.seq <= h.last_seq
           and b.deleted_at is null and b.sender_id <> c.caller_id
       ) + (
         select count(*) from message_mentions mm
         join messages m on m.room_id = mm.room_id and m.seq = mm.seq
         where mm.user_id = c.caller_id and mm.room_id = r.room_id and mm.seq > r.last_read_seq and mm.seq <= h.last_seq
           and m.mention_broadcast = 0 and m.deleted_at is null and m.sender_id <> c.caller_id
       ) else 0 end as mention_count,
       (select count(*) from thread_follows f
        where f.user_id = c.caller_id and f.room_id = r.room_id and f.following
          and exists (select 1 from messages x where x.thread_root_id = f.root_id and x.seq > f.last_read_seq
                      and x.deleted_at is null and x.sender_id <> f.user_id)) as unread_thread_count
from (select ?::uuid as caller_id) as c, jsonb_to_recordset(?::jsonb) as r(i int, room_id uuid, last_read_seq bigint)
left join room_heads h on h.room_id = r.room_id`;

/** What the room's timeline shows: no thread reply unless it was also sent to the room. */
const IN_TIMELINE = `(thread_root_id is null or also_sent_to_room)`;

/** The newest `limit` messages below a seq: a backward range scan of (room_id, seq). */
export const OLDER_SQL = `select ${MESSAGE_COLUMNS} from messages where room_id = ?::uuid and ${IN_TIMELINE} and seq < ?::bigint order by seq desc limit ?`;

/** The oldest `limit` messages from a seq up to the head: a forward range scan of (room_id, seq). */
export const NEWER_SQL = `select ${MESSAGE_COLUMNS} from messages where room_id = ?::uuid and ${IN_TIMELINE} and seq >= ?::bigint and seq <= ?::bigint order by seq asc limit ?`;

/** A thread's replies, the same pages by seq: range scans of (thread_root_id, seq). */
export const THREAD_OLDER_SQL = `select ${MESSAGE_COLUMNS} from messages where room_id = ?::uuid and thread_root_id = ?::uuid and seq < ?::bigint order by seq desc limit ?`;
export const THREAD_NEWER_SQL = `select ${MESSAGE_COLUMNS} from messages where room_id = ?::uuid and thread_root_id = ?::uuid and seq >= ?::bigint and seq <= ?::bigint order by seq asc limit ?`;

/** How many repliers a root's summary lists, the latest first. */
export const THREAD_PARTICIPANTS_LISTED = 5;

/** A thread's summary from its replies (in the reply's transaction, under the root's row lock). */
const THREAD_SUMMARY_SQL = `
select count(*) filter (where deleted_at is null) as reply_count,
       max(created_at) filter (where deleted_at is null) as last_reply_at,
       coalesce(max(seq), 0) as last_reply_seq,
       coalesce((select array_agg(p.sender_id::text order by p.last_seq desc) from (
          select sender_id, max(seq) as last_seq from messages
          where thread_root_id = ?::uuid and deleted_at is null
          group by sender_id order by max(seq) desc limit ${THREAD_PARTICIPANTS_LISTED}) p), '{}') as participant_ids
from messages where thread_root_id = ?::uuid`;

/** Replies after a marker that are neither deleted nor the reader's. */
const THREAD_UNREAD_SQL = `(select count(*) from messages x where x.thread_root_id = f.root_id and x.seq > f.last_read_seq
  and x.deleted_at is null and x.sender_id <> f.user_id)`;

/**
 * The threads a user follows in some rooms, newest reply first (a thread whose replies were all
 * deleted sorts by its root's time), keyset-paged by (sort_at, root id).
 */
const THREADS_SQL = `
select * from (
  select ${M_COLUMNS}, f.last_read_seq as f_last_read_seq, coalesce(m.last_reply_at, m.created_at) as f_sort_at,
         ${THREAD_UNREAD_SQL} as f_unread_count
  from thread_follows f join messages m on m.id = f.root_id
  where f.user_id = ?::uuid and f.following
    and f.room_id in (select value::uuid from jsonb_array_elements_text(?::jsonb))
) t
where (not ?::boolean or t.f_unread_count > 0)
  and (?::timestamptz is null or (t.f_sort_at, t.id) < (?::timestamptz, ?::uuid))
order by t.f_sort_at desc, t.id desc
limit ?`;

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
export const PINS_SQL = `select ${MESSAGE_COLUMNS} from messages where room_id = ?::uuid and pinned_at is not null order by pinned_at desc, id desc limit ?`;
export const PINS_AFTER_SQL = `select ${MESSAGE_COLUMNS} from messages where room_id = ?::uuid and pinned_at is not null
  and (pinned_at, id) < (?::timestamptz, ?::uuid) order by pinned_at desc, id desc limit ?`;

/**
 * The caller's mentions among the rooms given, newest first (by (created_at, id)): their rows of
 * message_mentions and the rooms' broadcasts, without deleted messages and their own.
 */
const MENTIONS_SQL = `
with rooms as (select value::uuid as room_id from jsonb_array_elements_text(?::jsonb)),
     caller as (select ?::uuid as id)
select ${M_COLUMNS} from messages m, caller
where m.id in (
    select mm.message_id from message_mentions mm, caller where mm.user_id = caller.id and mm.room_id in (select room_id from rooms)
    union
    select b.id from messages b where b.room_id in (select room_id from rooms) and b.mention_broadcast > 0
  )
  and m.deleted_at is null and m.sender_id <> caller.id
  and (?::timestamptz is null or (m.created_at, m.id) < (?::timestamptz, ?::uuid))
order by m.created_at desc, m.id desc
limit ?`;

/** Whom a message mentions (resolved by the service). */
export interface Mentions {
  userIds: string[];
  /** MentionBroadcast: 0 none, 1 @room, 2 @here. */
  broadcast: number;
}

export const NO_MENTIONS: Mentions = { userIds: [], broadcast: 0 };

export interface NewMessage {
  id: string;
  roomId: string;
  senderId: string;
  body: string;
  clientMsgId: string;
  replyToId: string | null;
  threadRootId?: string | null;
  alsoSentToRoom?: boolean;
  /** None when unset. */
  mentions?: Mentions;
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
  unreadThreadCount: bigint;
  mentionCount: bigint;
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
        message.threadRootId ?? null,
        message.alsoSentToRoom ?? false,
        JSON.stringify((message.mentions ?? NO_MENTIONS).userIds),
        (message.mentions ?? NO_MENTIONS).broadcast,
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

  /**
   * Up to `count` messages with seq < `belowSeq`, newest first: of the room's timeline, or of a
   * thread's replies when `threadRootId` is given.
   */
  async older(roomId: string, belowSeq: bigint, count: number, threadRootId?: string): Promise<Message[]> {
    if (count <= 0 || belowSeq <= 1n) return [];
    const em = this.em;
    const rows = threadRootId
      ? await em.execute<Record<string, unknown>[]>(THREAD_OLDER_SQL, [roomId, threadRootId, belowSeq.toString(), count])
      : await em.execute<Record<string, unknown>[]>(OLDER_SQL, [roomId, belowSeq.toString(), count]);
    return rows.map((row) => em.map(Message, row));
  }

  /** Up to `count` messages with fromSeq <= seq <= uptoSeq, oldest first (of the timeline or a thread, as `older`). */
  async newer(roomId: string, fromSeq: bigint, uptoSeq: bigint, count: number, threadRootId?: string): Promise<Message[]> {
    if (count <= 0 || fromSeq > uptoSeq) return [];
    const em = this.em;
    const rows = threadRootId
      ? await em.execute<Record<string, unknown>[]>(THREAD_NEWER_SQL, [roomId, threadRootId, fromSeq.toString(), uptoSeq.toString(), count])
      : await em.execute<Record<string, unknown>[]>(NEWER_SQL, [roomId, fromSeq.toString(), uptoSeq.toString(), count]);
    return rows.map((row) => em.map(Message, row));
  }

  // --- threads (issue 16) ---
  /** The root, locked until COMMIT (before the room head, as an edit locks: the same order everywhere). */
  lockForThread(rootId: string): Promise<Message> {
    return this.em.findOneOrFail(Message, { id: rootId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  }

  /**
   * Recomputes the root's thread summary from its replies and, when it changed, takes the root's
   * next stream position (after the reply's), so that it goes out as edited and comes on resume.
   * In the reply's (or its delete's) transaction, with the root locked by lockForThread.
   */
  async refreshThreadSummary(root: Message): Promise<boolean> {
    // A reply tombstoned in this transaction is still only in the unit of work: write it first.
    await this.em.flush();
    const [row] = await this.em.execute<
      { reply_count: string | number; last_reply_at: Date | string | null; last_reply_seq: string | number; participant_ids: string[] }[]
    >(THREAD_SUMMARY_SQL, [root.id, root.id]);
    const replyCount = Number(row!.reply_count);
    const lastReplyAt = row!.last_reply_at ? new Date(row!.last_reply_at) : null;
    const lastReplySeq = BigInt(row!.last_reply_seq);
    const participants = row!.participant_ids ?? [];
    const same =
      root.replyCount === replyCount &&
      (root.lastReplyAt?.getTime() ?? null) === (lastReplyAt?.getTime() ?? null) &&
      BigInt(root.lastReplySeq) === lastReplySeq &&
      JSON.stringify(root.threadParticipantIds ?? []) === JSON.stringify(participants);
    if (same) return false;
    await this.takeChange(root);
    root.replyCount = replyCount;
    root.lastReplyAt = lastReplyAt;
    root.lastReplySeq = lastReplySeq;
    root.threadParticipantIds = participants;
    return true;
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
  async edit(id: string, body: string, now: Date, mentions: Mentions = NO_MENTIONS): Promise<Change> {
    const message = await this.em.findOneOrFail(Message, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (message.deletedAt) throw new MessageGone(id);
    if (message.body === body) return { message, changed: false };
    await this.takeChange(message);
    await this.replaceMentions(message, mentions);
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
    // ...and mentions nobody any more.
    await this.replaceMentions(message, NO_MENTIONS);
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

  /**
   * Link previews (issue 19): runs `change` on the locked message and, when it changed anything,
   * takes the room's next stream position for it, as a reaction does; MessageGone if deleted. In a
   * transaction (db.transactional): it locks the message row, then the room head.
   */
  async changeWith(id: string, change: (message: Message) => Promise<boolean>): Promise<Change> {
    const message = await this.em.findOneOrFail(Message, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
    if (message.deletedAt) throw new MessageGone(id);
    if (!(await change(message))) return { message, changed: false };
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

  // --- mentions (issue 16) ---
  /** Sets whom the message mentions, its message_mentions rows with it (in the change's transaction). */
  private async replaceMentions(message: Message, mentions: Mentions): Promise<void> {
    await this.em.execute(`delete from message_mentions where message_id = ?::uuid`, [message.id]);
    if (mentions.userIds.length > 0) {
      await this.em.execute(
        `insert into message_mentions (message_id, user_id, room_id, seq)
         select ?::uuid, value::uuid, ?::uuid, ?::bigint from jsonb_array_elements_text(?::jsonb)`,
        [message.id, message.roomId, message.seq.toString(), JSON.stringify(mentions.userIds)],
      );
    }
    message.mentionUserIds = [...mentions.userIds];
    message.mentionBroadcast = mentions.broadcast;
  }

  /** Up to `count` messages mentioning the user in the rooms, newest first, after the (createdAt, id) cursor. */
  async mentionsOf(userId: string, roomIds: readonly string[], after: { at: Date; id: string } | null, count: number): Promise<Message[]> {
    if (roomIds.length === 0) return [];
    const em = this.em;
    const rows = await em.execute<Record<string, unknown>[]>(MENTIONS_SQL, [
      JSON.stringify(roomIds),
      userId,
      after?.at ?? null,
      after?.at ?? null,
      after?.id ?? null,
      count,
    ]);
    return rows.map((row) => em.map(Message, row));
  }

  /** Stats of every position, in request order. */
  async stats(positions: RoomReadPosition[], callerId: string): Promise<RoomStatsRow[]> {
    if (positions.length === 0) return [];
    const input = positions.map((p, i) => ({ i, room_id: p.roomId, last_read_seq: p.lastReadSeq.toString() }));
    const rows = await this.em.execute<
      {
        i: number;
        last_seq: string | null;
        last_change: string | null;
        last_activity_ms: string | null;
        unread_count: string | number;
        mention_count: string | number;
        unread_thread_count: string | number;
      }[]
    >(STATS_SQL, [callerId, JSON.stringify(input)]);
    const byIndex = new Map(rows.map((row) => [Number(row.i), row]));
    return positions.map((position, i) => {
      const row = byIndex.get(i);
      return {
        roomId: position.roomId,
        lastSeq: BigInt(row?.last_seq ?? 0),
        lastChange: BigInt(row?.last_change ?? 0),
        unreadCount: BigInt(row?.unread_count ?? 0),
        unreadThreadCount: BigInt(row?.unread_thread_count ?? 0),
        mentionCount: BigInt(row?.mention_count ?? 0),
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

// --- threads (issue 16) ---
/** A followed thread as ListThreads reads it: the root and the follower's marker and unread count. */
export interface FollowedThread {
  root: Message;
  lastReadSeq: bigint;
  unreadCount: bigint;
  sortAt: Date;
}

/** One user's follow state of one thread (no row: not following, nothing read). */
export interface FollowState {
  following: boolean;
  lastReadSeq: bigint;
  unreadCount: bigint;
}

export class ThreadFollowRepository extends EntityRepository<ThreadFollow> {
  /**
   * Makes the user follow the thread (again), keeping their read marker; a new follower has read up
   * to `readUpTo`. This is what a reply does for its sender, and what a mention in a thread can call
   * for whoever it mentions (readUpTo 0n: the thread's replies are unread to them).
   */
  follow(userId: string, rootId: string, roomId: string, readUpTo = 0n): Promise<void> {
    return this.setFollowing(userId, rootId, roomId, true, readUpTo);
  }

  /** The root's author follows once someone replies, unless they chose otherwise before (an unfollow stays). */
  async followUnlessChosen(userId: string, rootId: string, roomId: string): Promise<void> {
    await this.em.execute(
      `insert into thread_follows (user_id, root_id, room_id, following, last_read_seq, updated_at)
       values (?::uuid, ?::uuid, ?::uuid, true, 0, now()) on conflict (user_id, root_id) do nothing`,
      [userId, rootId, roomId],
    );
  }

  /** Stops following, keeping the marker (a new row: read up to `readUpTo`); a reply follows again. */
  unfollow(userId: string, rootId: string, roomId: string, readUpTo: bigint): Promise<void> {
    return this.setFollowing(userId, rootId, roomId, false, readUpTo);
  }

  /** Sets the user's follow of the thread; an existing row keeps its read marker. */
  private async setFollowing(userId: string, rootId: string, roomId: string, following: boolean, readUpTo: bigint): Promise<void> {
    await this.em.execute(
      `insert into thread_follows (user_id, root_id, room_id, following, last_read_seq, updated_at)
       values (?::uuid, ?::uuid, ?::uuid, ?::boolean, ?::bigint, now())
       on conflict (user_id, root_id) do update set following = excluded.following, updated_at = excluded.updated_at`,
      [userId, rootId, roomId, following, readUpTo.toString()],
    );
  }

  /** Moves the user's marker forward (never back); nothing for a thread they have no row for. */
  async markRead(userId: string, rootId: string, seq: bigint): Promise<void> {
    await this.em.execute(
      `update thread_follows set last_read_seq = greatest(last_read_seq, ?::bigint), updated_at = now()
       where user_id = ?::uuid and root_id = ?::uuid`,
      [seq.toString(), userId, rootId],
    );
  }

  async state(userId: string, rootId: string): Promise<FollowState> {
    const [row] = await this.em.execute<{ following: boolean; last_read_seq: string; unread_count: string | number }[]>(
      `select f.following, f.last_read_seq, ${THREAD_UNREAD_SQL} as unread_count from thread_follows f
       where f.user_id = ?::uuid and f.root_id = ?::uuid`,
      [userId, rootId],
    );
    if (!row) return { following: false, lastReadSeq: 0n, unreadCount: 0n };
    return { following: row.following, lastReadSeq: BigInt(row.last_read_seq), unreadCount: BigInt(row.unread_count) };
  }

  /** Up to `count` followed threads in the rooms, newest reply first, after the (sortAt, root id) cursor. */
  async followed(
    userId: string,
    roomIds: readonly string[],
    unreadOnly: boolean,
    after: { sortAt: Date; id: string } | null,
    count: number,
  ): Promise<FollowedThread[]> {
    if (roomIds.length === 0) return [];
    const em = this.em;
    const rows = await em.execute<Record<string, unknown>[]>(THREADS_SQL, [
      userId,
      JSON.stringify(roomIds),
      unreadOnly,
      after?.sortAt ?? null,
      after?.sortAt ?? null,
      after?.id ?? null,
      count,
    ]);
    return rows.map((row) => {
      const { f_last_read_seq: lastReadSeq, f_unread_count: unread, f_sort_at: sortAt, ...message } = row;
      return {
        root: em.map(Message, message),
        lastReadSeq: BigInt(lastReadSeq as string),
        unreadCount: BigInt(unread as string | number),
        sortAt: new Date(sortAt as string | Date),
      };
    });
  }
}

// --- search (issue 17; docs/search.md) ---

/** The text search configuration of messages.search_vector (Migration20261203100000_search). */
export const SEARCH_CONFIG = "english";

/** A word of a query: its prefix tsquery (null when it has no letters or digits) and its ILIKE pattern. */
export interface SearchWord {
  tsquery: string | null;
  like: string;
}

/** What a search asks of the database, every name already resolved (rooms and senders are ids). */
export interface SearchPlan {
  /** The caller's rooms to search (never empty). */
  roomIds: readonly string[];
  /** Any of these senders (null: anyone). */
  senderIds: readonly string[] | null;
  words: readonly SearchWord[];
  /** ILIKE patterns. */
  phrases: readonly string[];
  excludedWords: readonly SearchWord[];
  excludedPhrases: readonly string[];
  hasLink: boolean;
  /** has:file, has:image (issue 19): readable attachments, any / shown as images. */
  hasFile: boolean;
  hasImage: boolean;
  /** Days (YYYY-MM-DD) in timeZone: since included, until not. */
  since?: string;
  until?: string;
  timeZone: string;
}

/** Where a page starts: the first page's anchor time (microseconds since the epoch) and the last hit's key. */
export interface SearchCursor {
  anchorUs: bigint;
  /** Relevance: the last hit's score; newest: its created_at in microseconds. */
  score?: number;
  createdUs?: bigint;
  id: string;
}

export interface SearchHitRow {
  message: Message;
  score: number;
  createdUs: bigint;
}

/** A page of hits, the anchor it was read at, and the matches per room (empty without hits). */
export interface SearchPage {
  rows: SearchHitRow[];
  anchorUs: bigint | null;
  /** Matches per room among the newest `cap`. */
  roomCounts: Record<string, number>;
  /** More than `cap` matches. */
  capped: boolean;
}

/** Escapes LIKE's metacharacters (the default escape is the backslash). */
export function likeEscape(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** `%value%`, escaped: a case-insensitive substring with ILIKE. */
export function substringPattern(value: string): string {
  return `%${likeEscape(value)}%`;
}

/**
 * A word's prefix tsquery text (`'word':*`, stemmed by to_tsquery), or null for a word that is not
 * all letters and digits (`x.io`, `c++`, `e-mail`): those match as substrings only, as a prefix
 * query of their pieces would find far more than they say.
 */
export function prefixTsquery(word: string): string | null {
  if (!/^[\p{L}\p{M}\p{N}]+$/u.test(word)) return null;
  return `'${word}':*`;
}

/** A PostgreSQL array literal of uuids (validated ids only). */
const uuidArray = (ids: readonly string[]) => `{${ids.join(",")}}`;

/** 30 days, in seconds: how fast recency fades. */
const RECENCY_SECONDS = 30 * 24 * 3600;

/**
 * The WHERE of a search: the rooms (= any, over the room-scoped GIN indexes), not deleted, sent by
 * the anchor, then every term and filter. Each positive word is its stemmed prefix tsquery on
 * search_vector OR an ILIKE substring of body; phrases are substrings; exclusions the same negated.
 */
function searchWhere(plan: SearchPlan, anchor: string, params: unknown[]): string {
  const where = [`m.room_id = any(?::uuid[])`, `m.deleted_at is null`, `m.created_at <= ${anchor}`];
  params.push(uuidArray(plan.roomIds));
  const word = (w: SearchWord) => {
    params.push(...(w.tsquery ? [w.tsquery] : []), w.like);
    return w.tsquery ? `(m.search_vector @@ to_tsquery('${SEARCH_CONFIG}', ?) or m.body ilike ?)` : `m.body ilike ?`;
  };
  for (const w of plan.words) where.push(word(w));
  for (const p of plan.phrases) {
    where.push(`m.body ilike ?`);
    params.push(p);
  }
  for (const w of plan.excludedWords) where.push(`not ${word(w)}`);
  for (const p of plan.excludedPhrases) {
    where.push(`m.body not ilike ?`);
    params.push(p);
  }
  if (plan.senderIds) {
    where.push(`m.sender_id = any(?::uuid[])`);
    params.push(uuidArray(plan.senderIds));
  }
  if (plan.hasLink) where.push(`m.has_link`);
  // Each a lookup of files_message_id_index per candidate (a deleted message's files are deleted too).
  if (plan.hasFile) where.push(`exists (select 1 from files f where f.message_id = m.id and f.deleted_at is null)`);
  if (plan.hasImage) where.push(`exists (select 1 from files f where f.message_id = m.id and f.deleted_at is null and f.display = 1)`);
  if (plan.since) {
    where.push(`m.created_at >= (?::timestamp at time zone ?::text)`);
    params.push(plan.since, plan.timeZone);
  }
  if (plan.until) {
    where.push(`m.created_at < (?::timestamp at time zone ?::text)`);
    params.push(plan.until, plan.timeZone);
  }
  return where.join("\n    and ");
}

const US = (expr: string) => `(extract(epoch from ${expr}) * 1000000)::bigint`;
const FROM_US = (param: string) => `(timestamptz 'epoch' + ${param}::bigint * interval '1 microsecond')`;

export class SearchRepository {
  constructor(private readonly em: Em) {}

  /**
   * One page of hits, with the rooms of the newest matches counted, in one statement (the exact
   * shape is in docs/search.md). `counted`: the newest `cap + 1` matches up to the anchor (the
   * first page's now(): later pages leave out what was sent after it), over the rooms' bitmap.
   * Relevance ranks the newest `cap` of them: score = (0.1 + ts_rank_cd of the words' prefix query,
   * normalised to [0, 1)) * (1 + exp(-age / 30 days)), the age taken at the anchor so that a hit's
   * score is the same on every page; keyset by (score, id) descending. Newest pages every match by
   * (created_at, id) descending.
   */
  async page(plan: SearchPlan, order: "relevance" | "newest", after: SearchCursor | null, count: number, cap: number): Promise<SearchPage> {
    const params: unknown[] = [after ? after.anchorUs.toString() : null];
    const anchorCte = `with a as materialized (select coalesce(${FROM_US("?")}, now()) as anchor)`;
    const counts = `(select jsonb_object_agg(y.room_id, y.n)::text from (
      select x.room_id, count(*) as n from (select room_id from counted order by created_at desc, id desc limit ${cap}) x group by x.room_id) y) as search_counts,
    (select count(*) from counted) > ${cap} as search_capped`;
    const select = (score: string) =>
      `select ${M_COLUMNS}, ${score} as search_score, ${US("a.anchor")} as search_anchor_us, ${US("m.created_at")} as search_created_us,
    ${counts}`;
    let sql: string;
    if (order === "relevance") {
      const where = searchWhere(plan, "a.anchor", params);
      const words = plan.words.map((w) => w.tsquery).filter((q): q is string => q !== null);
      const rank = words.length > 0 ? `ts_rank_cd(c.search_vector, to_tsquery('${SEARCH_CONFIG}', ?), 32)::float8` : `0::float8`;
      // Any of the words counts towards the rank (one found only as a substring adds nothing).
      if (words.length > 0) params.push(words.join(" | "));
      sql = `${anchorCte},
counted as materialized (
  select m.id, m.room_id, m.created_at, m.search_vector from messages m, a
  where ${where}
  order by m.created_at desc, m.id desc
  limit ${cap + 1}
),
ranked as (
  select c.id, (0.1 + ${rank}) * (1 + exp(-greatest(0, extract(epoch from (a.anchor - c.created_at))::float8) / ${RECENCY_SECONDS})) as score
  from (select * from counted order by created_at desc, id desc limit ${cap}) c, a
),
page as (
  select r.id, r.score from ranked r
  where (?::float8 is null or (r.score, r.id) < (?::float8, ?::uuid))
  order by r.score desc, r.id desc
  limit ?
)
${select("p.score")}
from page p join messages m on m.id = p.id, a
order by p.score desc, p.id desc`;
      params.push(after?.score ?? null, after?.score ?? null, after?.id ?? null, count);
    } else {
      const countedWhere = searchWhere(plan, "a.anchor", params);
      // The first page is the head of `counted`; a later one reads on from its cursor.
      let page: string;
      if (after) {
        const pageWhere = searchWhere(plan, "a.anchor", params);
        const created = after.createdUs?.toString() ?? "0";
        params.push(created, after.id, count);
        page = `select m.id from messages m, a
  where ${pageWhere}
    and (m.created_at, m.id) < (${FROM_US("?")}, ?::uuid)
  order by m.created_at desc, m.id desc
  limit ?`;
      } else {
        params.push(count);
        page = `select c.id from counted c order by c.created_at desc, c.id desc limit ?`;
      }
      sql = `${anchorCte},
counted as materialized (
  select m.room_id, m.created_at, m.id from messages m, a
  where ${countedWhere}
  order by m.created_at desc, m.id desc
  limit ${cap + 1}
),
page as (
  ${page}
)
${select("0::float8")}
from page p join messages m on m.id = p.id, a
order by m.created_at desc, m.id desc`;
    }
    const rows = await this.em.execute<Record<string, unknown>[]>(sql, params);
    let anchorUs: bigint | null = null;
    let roomCounts: Record<string, number> = {};
    let capped = false;
    const hits = rows.map((row) => {
      const { search_score: score, search_anchor_us: anchor, search_created_us: created, search_counts: counted, search_capped: isCapped, ...message } = row;
      anchorUs = BigInt(anchor as string);
      roomCounts = counted ? (JSON.parse(counted as string) as Record<string, number>) : {};
      capped = isCapped === true;
      return { message: this.em.map(Message, message), score: Number(score), createdUs: BigInt(created as string) };
    });
    return { rows: hits, anchorUs, roomCounts, capped };
  }

  /** Each word's stems in the search configuration (what a hit's words that start with them highlight). */
  async stems(words: readonly string[]): Promise<string[][]> {
    if (words.length === 0) return [];
    const rows = await this.em.execute<{ i: string | number; stems: string[] | null }[]>(
      `select x.i, (select array_agg(t.lexeme order by t.lexeme) from unnest(to_tsvector('${SEARCH_CONFIG}', x.word)) t) as stems
       from jsonb_array_elements_text(?::jsonb) with ordinality as x(word, i) order by x.i`,
      [JSON.stringify(words)],
    );
    return rows.map((r) => r.stems ?? []);
  }
}
