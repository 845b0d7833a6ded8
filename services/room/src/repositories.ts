// The room service's repositories, over rooms, memberships and room changes; built over one fork by
// initORM's data access (see services/kit/src/db.ts). Raw SQL goes through em.execute,
// which joins the fork's transaction and inlines the parameters with the platform's
// escaping (so an array parameter becomes a list: `in (?)`).
import { LockMode } from "@mikro-orm/core";
import { EntityRepository } from "@parley/kit";
import { uuidv7 } from "uuidv7";
import { encodeRoomChangePayload, type RoomChangePayload } from "./convert.js";
import { Membership, Room, RoomChange, type RoleName, type RoomKindName } from "./entities.js";

/**
 * Row locks a mutation takes on the room, so that role checks and membership changes serialise.
 * Only "update": every change takes the room's next stream position, which writes the room row,
 * so a shared lock taken first would deadlock two joiners that both hold it and both want to write.
 */
export type RoomLock = "update";

const LOCK_MODES: Record<RoomLock, LockMode> = {
  update: LockMode.PESSIMISTIC_WRITE,
};
const LOCK_CLAUSES: Record<RoomLock, string> = { update: "update" };

export interface RoomWithMembership {
  room: Room;
  membership: Membership | null;
}

export class RoomRepository extends EntityRepository<Room> {
  /**
   * The room and the user's membership in it, if the user may see the room (members always,
   * anyone for a public room); nulls otherwise. One query that answers "no row" alike for a room
   * that does not exist and for one the user may not see, so that neither the work nor the time
   * of the NOT_FOUND tells them apart (nothing is mapped before that). `lock` locks the room row,
   * under which every membership change (join, leave, invite, kick, role) happens.
   */
  async roomFor(roomId: string, userId: string, lock?: RoomLock): Promise<{ room: Room | null; membership: Membership | null }> {
    const [row] = await this.em.execute<Record<string, unknown>[]>(
      `select r.*, m.user_id as m_user_id, m.role as m_role, m.joined_at as m_joined_at, m.last_read_seq as m_last_read_seq
       from rooms r left join memberships m on m.room_id = r.id and m.user_id = ?
       where r.id = ? and (r.kind = 'public' or m.user_id is not null)${lock ? ` for ${LOCK_CLAUSES[lock]} of r` : ""}`,
      [userId, roomId],
    );
    if (!row) return { room: null, membership: null };
    const { m_user_id, m_role, m_joined_at, m_last_read_seq, ...columns } = row;
    const room = this.em.map(Room, columns);
    const memberColumns: Record<string, unknown> = { room_id: room.id, user_id: m_user_id, role: m_role, joined_at: m_joined_at, last_read_seq: m_last_read_seq };
    const membership = m_user_id ? this.em.map(Membership, memberColumns) : null;
    return { room, membership };
  }

  /** Every room the user is a member of, with the membership. */
  async roomsOf(userId: string): Promise<{ room: Room; membership: Membership }[]> {
    const memberships = await this.em.find(Membership, { userId });
    if (memberships.length === 0) return [];
    const rooms = await this.em.find(Room, { id: { $in: memberships.map((m) => m.roomId) } });
    const byId = new Map(rooms.map((r) => [r.id, r]));
    return memberships.flatMap((membership) => {
      const room = byId.get(membership.roomId);
      return room ? [{ room, membership }] : [];
    });
  }

  /**
   * Open public rooms in (lower(name), id) order after the cursor, optionally only those whose
   * name contains `query` (case-insensitive). Returns `limit` rooms at most, with their sort keys.
   */
  async publicRooms(
    query: string,
    after: { name: string; id: string } | undefined,
    limit: number,
  ): Promise<{ room: Room; sortName: string }[]> {
    const conditions = [`kind = 'public'`, `not archived`];
    const params: unknown[] = [];
    if (query !== "") {
      conditions.push(`lower(name) like ?`); // backslash escapes, the default of LIKE
      params.push(`%${escapeLike(query.toLowerCase())}%`);
    }
    if (after) {
      conditions.push(`(lower(name), id) > (?, ?::uuid)`);
      params.push(after.name, after.id);
    }
    const rows = await this.em.execute<Record<string, unknown>[]>(
      `select *, lower(name) as sort_name from rooms where ${conditions.join(" and ")} order by lower(name), id limit ?`,
      [...params, limit],
    );
    return rows.map(({ sort_name, ...columns }) => ({ room: this.em.map(Room, columns), sortName: String(sort_name) }));
  }

  /** The direct room with this key, if it exists. */
  directRoom(directKey: string): Promise<Room | null> {
    return this.em.findOne(Room, { directKey }, { refresh: true });
  }

  /**
   * Creates the direct room of a pair or a group with every membership, unless it exists: the unique
   * direct key makes concurrent opens from both sides agree on one room. Returns null when
   * another call made it first (committed by the time this returns, so `directRoom` sees it).
   */
  async createDirectRoom(
    directKey: string,
    creatorId: string,
    memberIds: string[],
  ): Promise<{ room: Room; memberships: Membership[] } | null> {
    const now = new Date();
    const [row] = await this.em.execute<Record<string, unknown>[]>(
      `insert into rooms (id, kind, name, topic, creator_id, created_at, archived, direct_key, direct_members)
       values (?, 'direct', '', '', ?, ?, false, ?, ?)
       on conflict (direct_key) do nothing
       returning *`,
      [uuidv7(), creatorId, now, directKey, [...memberIds].sort().join(":")],
    );
    if (!row) return null;
    const room = this.em.map(Room, row);
    const memberships = memberIds.map((userId) =>
      this.em.create(Membership, { roomId: room.id, userId, role: "member", joinedAt: now, lastReadSeq: 0n }),
    );
    await this.em.flush();
    return { room, memberships };
  }
}

export class MembershipRepository extends EntityRepository<Membership> {
  /**
   * With `lock`, the row as committed now (not as an earlier read of this transaction mapped it:
   * roomFor's join may have seen it before waiting for the room lock, and a racing change can have
   * committed meanwhile), locked.
   */
  membership(roomId: string, userId: string, lock?: RoomLock): Promise<Membership | null> {
    return this.em.findOne(Membership, { roomId, userId }, lock ? { lockMode: LOCK_MODES[lock], refresh: true } : {});
  }

  /** GetMembership's one primary-key lookup: the membership with its room's kind and archived flag. */
  async membershipWithRoom(
    roomId: string,
    userId: string,
  ): Promise<{ membership: Membership; kind: RoomKindName; archived: boolean; membersCanPin: boolean; membersCanMentionEveryone: boolean } | null> {
    const [row] = await this.em.execute<Record<string, unknown>[]>(
      `select m.*, r.kind as room_kind, r.archived as room_archived, r.members_can_pin as room_members_can_pin,
              r.members_can_mention_everyone as room_members_can_mention_everyone
       from memberships m join rooms r on r.id = m.room_id
       where m.room_id = ? and m.user_id = ?`,
      [roomId, userId],
    );
    if (!row) return null;
    const { room_kind, room_archived, room_members_can_pin, room_members_can_mention_everyone, ...columns } = row;
    return {
      membership: this.em.map(Membership, columns),
      kind: room_kind as RoomKindName,
      archived: Boolean(room_archived),
      membersCanPin: Boolean(room_members_can_pin),
      membersCanMentionEveryone: Boolean(room_members_can_mention_everyone),
    };
  }

  /** Member counts of rooms, by room id (0 for rooms without members). */
  async memberCounts(roomIds: string[]): Promise<Map<string, number>> {
    const counts = new Map(roomIds.map((id) => [id, 0]));
    if (roomIds.length === 0) return counts;
    const rows = await this.em.execute<{ room_id: string; members: string | number }[]>(
      `select room_id, count(*) as members from memberships where room_id in (?) group by room_id`,
      [roomIds],
    );
    for (const row of rows) counts.set(row.room_id, Number(row.members));
    return counts;
  }

  async memberCount(roomId: string): Promise<number> {
    return (await this.memberCounts([roomId])).get(roomId) ?? 0;
  }

  /** Adds a member unless they already are one; `created` says which. */
  async addMember(roomId: string, userId: string, role: RoleName): Promise<{ membership: Membership; created: boolean }> {
    const [row] = await this.em.execute<Record<string, unknown>[]>(
      `insert into memberships (room_id, user_id, role, joined_at, last_read_seq) values (?, ?, ?, ?, 0)
       on conflict (room_id, user_id) do nothing
       returning *`,
      [roomId, userId, role, new Date()],
    );
    if (row) return { membership: this.em.map(Membership, row), created: true };
    // Already a member (perhaps added a moment ago by a concurrent call, now committed).
    const existing = await this.em.findOneOrFail(Membership, { roomId, userId }, { refresh: true });
    return { membership: existing, created: false };
  }

  /** Members of a room after `afterUserId`, in user id order (the primary key's): `limit` of them at most. */
  listMembers(roomId: string, afterUserId: string | undefined, limit: number): Promise<Membership[]> {
    return this.em.find(
      Membership,
      { roomId, ...(afterUserId && { userId: { $gt: afterUserId } }) },
      { orderBy: { userId: "asc" }, limit },
    );
  }

  /** Everyone in the room but `userId`. */
  async otherMemberCount(roomId: string, userId: string): Promise<number> {
    return this.em.count(Membership, { roomId, userId: { $ne: userId } });
  }

  /**
   * Moves the read marker forward to `seq` (never backwards, even when calls race).
   * Returns the marker after the update, or null if the user is not a member.
   */
  async moveReadMarker(roomId: string, userId: string, seq: bigint): Promise<bigint | null> {
    const [row] = await this.em.execute<{ last_read_seq: string }[]>(
      `update memberships set last_read_seq = greatest(last_read_seq, ?::bigint)
       where room_id = ? and user_id = ?
       returning last_read_seq`,
      [seq.toString(), roomId, userId],
    );
    return row ? BigInt(row.last_read_seq) : null;
  }
}

/**
 * The room lane of each room's stream. A change takes the room's next position with one statement
 * (`take`) and is recorded at it (`record`), both in the transaction that makes the change: the
 * update keeps the room row locked until commit, so the room's changers take their positions one
 * after the other in commit order, and a rollback gives the position back. The lane stays gapless.
 */
export class RoomChangeRepository extends EntityRepository<RoomChange> {
  /** The room's next position. In the change's transaction (it locks the room row until commit). */
  async take(roomId: string): Promise<bigint> {
    const [row] = await this.em.execute<{ last_change: string }[]>(
      `update rooms set last_change = last_change + 1 where id = ? returning last_change`,
      [roomId],
    );
    if (!row) throw new Error(`room ${roomId} vanished while changing it`);
    return BigInt(row.last_change);
  }

  /** Takes the room's next position and records the change at it; returns the position. */
  async record(
    roomId: string,
    byUserId: string,
    at: Date,
    payload: (change: bigint) => RoomChangePayload,
  ): Promise<bigint> {
    const change = await this.take(roomId);
    this.em.create(RoomChange, { roomId, change, byUserId, createdAt: at, payload: encodeRoomChangePayload(payload(change)) });
    return change;
  }

  /**
   * The room's changes after `after` (ascending, `limit` at most) and its newest position, for a
   * member of it; null when the room does not exist or `userId` is not a member (the same single
   * query either way). One statement, so one snapshot: the page never runs past the head it
   * reports, and, the lane being gapless in commit order, it holds every change up to it.
   */
  async page(
    roomId: string,
    userId: string,
    after: bigint,
    limit: number,
  ): Promise<{ head: bigint; changes: RoomChange[] } | null> {
    const rows = await this.em.execute<Record<string, unknown>[]>(
      `with head as (
         select r.last_change from rooms r join memberships m on m.room_id = r.id and m.user_id = ? where r.id = ?
       )
       select head.last_change as head, c.room_id, c.change, c.by_user_id, c.created_at, c.payload
       from head left join lateral (
         select * from room_changes
         where room_id = ? and change > ?::bigint and change <= head.last_change
         order by change limit ?
       ) c on true
       order by c.change`,
      [userId, roomId, roomId, after.toString(), limit],
    );
    const [first] = rows;
    if (!first) return null;
    const changes = rows.flatMap(({ head: _head, ...columns }) => (columns.change === null ? [] : [this.em.map(RoomChange, columns)]));
    return { head: BigInt(first.head as string), changes };
  }
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
