// The worker's tables: the deliveries (one claim per (user, message, channel), the dispatchers'
// queue with leases) and the per-room cursors of the intake. Plain SQL over one fork (em.execute
// joins the fork's transaction). `for update skip locked` lets replicas take disjoint rows on
// PostgreSQL; PGlite runs one transaction at a time, where it is a plain `for update`.
import type { Em } from "@parley/kit";
import { uuidv7 } from "uuidv7";

export type DeliveryState = "pending" | "sending" | "sent" | "skipped";

export interface Claim {
  userId: string;
  messageId: string;
  channel: number;
  roomId: string;
  seq: bigint;
  threadRootId: string | null;
  reason: number;
  dueAt: Date;
}

export interface DeliveryRow extends Claim {
  state: DeliveryState;
  attempts: number;
  batchId: string | null;
  leaseUntil: Date | null;
}

export interface DeliveryKey {
  userId: string;
  messageId: string;
  channel: number;
}

const toRow = (row: Record<string, unknown>): DeliveryRow => ({
  userId: row.user_id as string,
  messageId: row.message_id as string,
  channel: Number(row.channel),
  roomId: row.room_id as string,
  seq: BigInt(row.seq as string),
  threadRootId: (row.thread_root_id as string | null) ?? null,
  reason: Number(row.reason),
  dueAt: new Date(row.due_at as string),
  state: row.state as DeliveryState,
  attempts: Number(row.attempts),
  batchId: (row.batch_id as string | null) ?? null,
  leaseUntil: row.lease_until ? new Date(row.lease_until as string) : null,
});

/** `(user_id, message_id, channel) in (...)` for a list of keys. */
function keysClause(keys: DeliveryKey[]): { sql: string; params: unknown[] } {
  return {
    sql: `(user_id, message_id, channel) in (${keys.map(() => "(?::uuid, ?::uuid, ?::smallint)").join(", ")})`,
    params: keys.flatMap((k) => [k.userId, k.messageId, k.channel]),
  };
}

export class DeliveryRepository {
  constructor(private readonly em: Em) {}

  /** Inserts the claims that do not exist yet (a replay, a second replica: nothing); returns how many were new. */
  async claim(claims: Claim[], now: Date): Promise<number> {
    let inserted = 0;
    for (let i = 0; i < claims.length; i += 200) {
      const chunk = claims.slice(i, i + 200);
      const rows = await this.em.execute<{ user_id: string }[]>(
        `insert into deliveries (user_id, message_id, channel, room_id, seq, thread_root_id, reason, state, due_at, created_at)
         values ${chunk.map(() => "(?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)").join(", ")}
         on conflict do nothing returning user_id`,
        chunk.flatMap((c) => [c.userId, c.messageId, c.channel, c.roomId, c.seq.toString(), c.threadRootId, c.reason, c.dueAt, now]),
      );
      inserted += rows.length;
    }
    return inserted;
  }

  /**
   * Leases up to `limit` due rows of a channel (pending and due, or sending with an expired lease:
   * a dispatcher died mid-send) until `leaseUntil`, oldest due first. Run in a transaction. Email
   * rows get their batch id here (kept on a retry: the same Message-ID goes out again).
   */
  async lease(channel: number, now: Date, leaseUntil: Date, limit: number): Promise<DeliveryRow[]> {
    const rows = await this.em.execute<Record<string, unknown>[]>(
      `with due as (
         select user_id, message_id, channel from deliveries
         where channel = ? and state in ('pending', 'sending')
           and ((state = 'pending' and due_at <= ?) or (state = 'sending' and lease_until <= ?))
         order by due_at, user_id, message_id
         limit ?
         for update skip locked
       )
       update deliveries d set state = 'sending', lease_until = ?, attempts = d.attempts + 1
       from due where d.user_id = due.user_id and d.message_id = due.message_id and d.channel = due.channel
       returning d.*`,
      [channel, now, now, limit, leaseUntil],
    );
    return rows.map(toRow);
  }

  /**
   * Email: leases the due rows of up to `users` people together with their other pending email rows
   * due within `windowMs` (one email gathers them: a message may go up to that much before its
   * delay ends rather than in an email of its own moments later). Run in a transaction.
   */
  async leaseEmail(now: Date, leaseUntil: Date, users: number, windowMs: number): Promise<DeliveryRow[]> {
    const channel = 3;
    const rows = await this.em.execute<Record<string, unknown>[]>(
      `with people as (
         select distinct user_id from deliveries
         where channel = ? and state in ('pending', 'sending')
           and ((state = 'pending' and due_at <= ?) or (state = 'sending' and lease_until <= ?))
         limit ?
       ), due as (
         select user_id, message_id, channel from deliveries
         where channel = ? and user_id in (select user_id from people) and state in ('pending', 'sending')
           and ((state = 'pending' and due_at <= ?) or (state = 'sending' and lease_until <= ?))
         for update skip locked
       )
       update deliveries d set state = 'sending', lease_until = ?, attempts = d.attempts + 1
       from due where d.user_id = due.user_id and d.message_id = due.message_id and d.channel = due.channel
       returning d.*`,
      [channel, now, now, users, channel, new Date(now.getTime() + windowMs), now, leaseUntil],
    );
    return rows.map(toRow);
  }

  /** Gives one email batch id to the leased rows of a user that have none (a retry keeps its own). */
  async assignBatch(keys: DeliveryKey[]): Promise<string> {
    const batchId = uuidv7();
    const { sql, params } = keysClause(keys);
    await this.em.execute(`update deliveries set batch_id = ? where batch_id is null and ${sql}`, [batchId, ...params]);
    return batchId;
  }

  async finish(keys: DeliveryKey[], state: "sent" | "skipped", at: Date, note = ""): Promise<void> {
    if (keys.length === 0) return;
    const { sql, params } = keysClause(keys);
    await this.em.execute(
      `update deliveries set state = ?, lease_until = null, sent_at = ?, note = ? where state = 'sending' and ${sql}`,
      [state, state === "sent" ? at : null, note.slice(0, 200), ...params],
    );
  }

  /** Back to pending, due at `dueAt` (a retry later, or an email waiting for quiet hours to end). */
  async postpone(keys: DeliveryKey[], dueAt: Date, note = ""): Promise<void> {
    if (keys.length === 0) return;
    const { sql, params } = keysClause(keys);
    await this.em.execute(`update deliveries set state = 'pending', lease_until = null, due_at = ?, note = ? where ${sql}`, [
      dueAt,
      note.slice(0, 200),
      ...params,
    ]);
  }

  /** Every delivery of a message (tests, operators). */
  async ofMessage(messageId: string): Promise<DeliveryRow[]> {
    const rows = await this.em.execute<Record<string, unknown>[]>(`select * from deliveries where message_id = ? order by user_id, channel`, [messageId]);
    return rows.map(toRow);
  }

  /** When the next pending row of a channel is due (the dispatcher sleeps until then, at most its poll). */
  async nextDue(channel: number): Promise<Date | undefined> {
    const [row] = await this.em.execute<{ at: string | Date | null }[]>(
      `select min(case when state = 'pending' then due_at else lease_until end) as at from deliveries where channel = ? and state in ('pending', 'sending')`,
      [channel],
    );
    return row?.at ? new Date(row.at) : undefined;
  }
}

export class CursorRepository {
  constructor(private readonly em: Em) {}

  async get(roomId: string): Promise<bigint | undefined> {
    const [row] = await this.em.execute<{ last_seq: string }[]>(`select last_seq from room_cursors where room_id = ?`, [roomId]);
    return row ? BigInt(row.last_seq) : undefined;
  }

  async many(roomIds: string[]): Promise<Map<string, bigint>> {
    if (roomIds.length === 0) return new Map();
    const rows = await this.em.execute<{ room_id: string; last_seq: string }[]>(`select room_id, last_seq from room_cursors where room_id in (?)`, [roomIds]);
    return new Map(rows.map((row) => [row.room_id, BigInt(row.last_seq)]));
  }

  /** Moves the cursor forward to `seq` (never back: another replica may be ahead). */
  async advance(roomId: string, seq: bigint, now: Date): Promise<void> {
    await this.em.execute(
      `insert into room_cursors (room_id, last_seq, updated_at) values (?, ?, ?)
       on conflict (room_id) do update set last_seq = greatest(room_cursors.last_seq, excluded.last_seq), updated_at = excluded.updated_at`,
      [roomId, seq.toString(), now],
    );
  }
}
