// RoomService: rooms, direct conversations, memberships, roles and read markers.
// Who may see a room: its members, and anyone for a public room. Every other caller
// gets the same NOT_FOUND as for a room that does not exist.
// Every membership change and every change to a room itself takes the room lane's next position
// in its own transaction and is recorded there (RoomChangeRepository); its event carries the same
// position (Event.change), and ListRoomChanges replays the lane from any position.
import type { Client } from "@connectrpc/connect";
import { createHash } from "node:crypto";
import { uuidv7 } from "uuidv7";
import { z } from "zod";
import {
  Code,
  ConnectError,
  asUser,
  fail,
  publishCommitted,
  requireUserId,
  validate,
  type Broker,
  type CallContext,
  type Logger,
  type Outgoing,
  type ServiceHandlers,
} from "@parley/kit";
import { DIRECT_GROUP, PAGES } from "@parley/proto/rules";
import { fields, pageSize } from "@parley/proto/rules/zod";
import {
  RoomKind,
  type CreateRoomRequest,
  type GetMembershipRequest,
  type GetRoomRequest,
  type InviteMemberRequest,
  type JoinRoomRequest,
  type KickMemberRequest,
  type LeaveRoomRequest,
  type ListMembersRequest,
  type ListPublicRoomsRequest,
  type ListRoomChangesRequest,
  type MarkReadRequest,
  type MoveReadMarkerRequest,
  type OpenDirectRoomRequest,
  type RoomService,
  type SetMemberRoleRequest,
  type TransferOwnershipRequest,
  type UpdateRoomRequest,
} from "@parley/proto/room/v1/room_pb";
import type { UserService } from "@parley/proto/user/v1/user_pb";
import {
  kindToProto,
  membershipMessage,
  roleFromProto,
  roomChangeMessage,
  roomMessage,
  type RoomChangePayload,
  type RoomMessage,
} from "./convert.js";
import type { RoomDb } from "./db.js";
import { Membership, Room } from "./entities.js";
import type { RoomWithMembership } from "./repositories.js";

export interface RoomDeps {
  db: RoomDb;
  broker: Broker;
  users: Client<typeof UserService>;
  log: Logger;
}

const { default: PUBLIC_PAGE_DEFAULT } = PAGES.publicRooms;
const { default: MEMBERS_PAGE_DEFAULT } = PAGES.members;

// One message for "does not exist" and "you may not see it", so that neither leaks the other.
const ROOM_NOT_FOUND = "room not found";
const roomNotFound = () => fail.notFound(ROOM_NOT_FOUND);

// The rules of names and topics (lengths in code points, after trimming, as varchar counts them).
const { roomName, roomTopic, roomDescription, roomQuery, pageToken } = fields;
const roomKind = z
  .number()
  .refine((k) => k === RoomKind.PUBLIC || k === RoomKind.PRIVATE, "must be ROOM_KIND_PUBLIC or ROOM_KIND_PRIVATE");

const roomRequest = z.object({ roomId: fields.id });
const memberRequest = z.object({ roomId: fields.id, userId: fields.id });

const { default: CHANGES_PAGE_DEFAULT } = PAGES.changes;
const listRoomChangesRequest = z.object({
  roomId: fields.id,
  after: z.bigint().nonnegative("must not be negative"),
  limit: pageSize(PAGES.changes),
});

/** UpdateRoom's field mask paths. */
const EDITABLE = ["name", "topic", "description", "archived", "members_can_pin", "members_can_mention_everyone"] as const;
type EditablePath = (typeof EDITABLE)[number];

export class RoomServiceImpl implements ServiceHandlers<typeof RoomService> {
  constructor(private readonly deps: RoomDeps) {}

  async createRoom(request: CreateRoomRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const input = validate(z.object({ name: roomName, topic: roomTopic, kind: roomKind }), request);
    const now = new Date();
    const { room, lastChange } = await this.deps.db.transactional(async ({ em, roomChanges }) => {
      const room = em.create(Room, {
        id: uuidv7(),
        kind: input.kind === RoomKind.PUBLIC ? "public" : "private",
        name: input.name,
        topic: input.topic,
        creatorId: caller,
        createdAt: now,
        archived: false,
        directKey: null,
        lastChange: 0n,
      });
      const owner = em.create(Membership, { roomId: room.id, userId: caller, role: "owner", joinedAt: now, lastReadSeq: 0n });
      // The room's row must exist before its first position is taken: the creator's join.
      await em.flush();
      const lastChange = await roomChanges.record(room.id, caller, now, () => joined(owner));
      return { room, lastChange };
    });
    const message = roomMessage(room, 1, lastChange);
    // On the creator's own topic too: their other devices add the room to the sidebar.
    this.publish({ roomId: room.id, payload: { case: "roomCreated", value: { room: message } }, users: [caller] });
    return { room: message };
  }

  async getRoom(request: GetRoomRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { roomId } = validate(roomRequest, request);
    const { rooms, memberships } = this.deps.db.fork();
    const { room, membership } = visible(await rooms.roomFor(roomId, caller));
    return {
      room: roomMessage(room, await memberships.memberCount(roomId)),
      membership: membership ? membershipMessage(membership) : undefined,
    };
  }

  async updateRoom(request: UpdateRoomRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { roomId } = validate(roomRequest, request);
    const paths = request.updateMask?.paths ?? [];
    if (paths.length === 0) throw fail.invalidArgument("update_mask", "name at least one field to change");
    for (const path of paths) {
      if (!(EDITABLE as readonly string[]).includes(path)) {
        throw fail.invalidArgument("update_mask", `${path} is not an editable field (editable: ${EDITABLE.join(", ")})`);
      }
    }
    const values = {
      name: request.room?.name ?? "",
      topic: request.room?.topic ?? "",
      description: request.room?.description ?? "",
      archived: request.room?.archived ?? false,
      membersCanPin: request.room?.membersCanPin ?? false,
      membersCanMentionEveryone: request.room?.membersCanMentionEveryone ?? false,
    };
    const changes: Partial<Pick<Room, "name" | "topic" | "description" | "archived" | "membersCanPin" | "membersCanMentionEveryone">> = {};
    for (const path of new Set(paths as EditablePath[])) {
      if (path === "name") changes.name = validate(z.object({ name: roomName }), values).name;
      if (path === "topic") changes.topic = validate(z.object({ topic: roomTopic }), values).topic;
      if (path === "description") changes.description = validate(z.object({ description: roomDescription }), values).description;
      if (path === "archived") changes.archived = values.archived;
      if (path === "members_can_pin") changes.membersCanPin = values.membersCanPin;
      if (path === "members_can_mention_everyone") changes.membersCanMentionEveryone = values.membersCanMentionEveryone;
    }
    const outcome = await this.deps.db.transactional(async ({ em, rooms, memberships, roomChanges }) => {
      const { room, membership } = visible(await rooms.roomFor(roomId, caller, "update"));
      if (room.kind === "direct") throw fail.failedPrecondition("direct conversations cannot be changed");
      if (!isAdmin(membership)) throw fail.permissionDenied("only the room's admins can change it");
      const changed = (Object.keys(changes) as (keyof typeof changes)[]).some((key) => room[key] !== changes[key]);
      em.assign(room, changes);
      const memberCount = await memberships.memberCount(roomId);
      if (!changed) return { message: roomMessage(room, memberCount), change: 0n };
      let message: RoomMessage | undefined;
      const change = await roomChanges.record(roomId, caller, new Date(), (change) => {
        message = roomMessage(room, memberCount, change);
        return { case: "roomUpdated", value: message };
      });
      return { message: message!, change };
    });
    const { message, change } = outcome;
    if (change) this.publish({ roomId, payload: { case: "roomUpdated", value: { room: message } }, users: [], change });
    return { room: message };
  }

  /**
   * The caller's rooms with their memberships, most recently joined first. Messages are the
   * message service's: the edge adds last seq, unread count and activity (GetRoomStats).
   */
  async listMyRooms(_request: unknown, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { rooms, memberships } = this.deps.db.fork();
    const entries = await rooms.roomsOf(caller);
    const counts = await memberships.memberCounts(entries.map((e) => e.room.id));
    entries.sort((a, b) => b.membership.joinedAt.getTime() - a.membership.joinedAt.getTime() || compare(b.room.id, a.room.id));
    return {
      rooms: entries.map(({ room, membership }) => ({
        room: roomMessage(room, counts.get(room.id) ?? 0),
        membership: membershipMessage(membership),
      })),
    };
  }

  async listPublicRooms(request: ListPublicRoomsRequest, ctx: CallContext) {
    requireUserId(ctx);
    const input = validate(
      z.object({
        query: roomQuery,
        pageSize: pageSize(PAGES.publicRooms),
        pageToken,
      }),
      request,
    );
    const limit = input.pageSize || PUBLIC_PAGE_DEFAULT;
    const after = decodePublicRoomsToken(input.pageToken);
    const { rooms, memberships } = this.deps.db.fork();
    const rows = await rooms.publicRooms(input.query, after, limit + 1);
    const page = rows.slice(0, limit);
    const counts = await memberships.memberCounts(page.map((r) => r.room.id));
    const last = page.at(-1);
    return {
      rooms: page.map(({ room }) => roomMessage(room, counts.get(room.id) ?? 0)),
      nextPageToken: rows.length > limit && last ? encodeToken([last.sortName, last.room.id]) : "",
    };
  }

  async joinRoom(request: JoinRoomRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { roomId } = validate(roomRequest, request);
    const outcome = await this.deps.db.transactional(async ({ rooms, memberships, roomChanges }) => {
      const { room, membership } = visible(await rooms.roomFor(roomId, caller, "update"));
      if (room.kind === "direct") throw fail.failedPrecondition("direct conversations cannot be joined");
      // Joining twice is not an error (and a member of a private room may "join" it too); it
      // changes nothing, so it takes no position.
      if (membership) return { room, membership, change: 0n, memberCount: await memberships.memberCount(roomId) };
      if (room.archived) throw fail.failedPrecondition("the room is archived");
      const added = await memberships.addMember(roomId, caller, "member");
      const change = added.created
        ? await roomChanges.record(roomId, caller, added.membership.joinedAt, () => joined(added.membership))
        : 0n;
      return { room, membership: added.membership, change, memberCount: await memberships.memberCount(roomId) };
    });
    const membership = membershipMessage(outcome.membership);
    const { change } = outcome;
    if (change) {
      this.publish({ roomId, payload: { case: "memberJoined", value: { membership, byUserId: caller } }, users: [caller], change });
    }
    return { room: roomMessage(outcome.room, outcome.memberCount, change || outcome.room.lastChange), membership };
  }

  async leaveRoom(request: LeaveRoomRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { roomId } = validate(roomRequest, request);
    const outcome = await this.deps.db.transactional(async ({ em, rooms, memberships, roomChanges }) => {
      const { room, membership } = visible(await rooms.roomFor(roomId, caller, "update"));
      if (room.kind === "direct") throw fail.failedPrecondition("direct conversations cannot be left");
      // Leaving a public room one is not in is not an error, like joining twice.
      if (!membership) return undefined;
      let archived = false;
      if (membership.role === "owner") {
        if ((await memberships.otherMemberCount(roomId, caller)) > 0) {
          throw fail.failedPrecondition("the owner cannot leave while other members remain");
        }
        // Nobody could ever manage the room again: it closes with its last member.
        archived = !room.archived;
        room.archived = true;
      }
      em.remove(membership);
      const now = new Date();
      const left = await roomChanges.record(roomId, caller, now, () => ({ case: "memberLeft", value: caller }));
      // The leave comes first in the lane, then the archiving it caused, as the events go out.
      let closed: { room: RoomMessage; change: bigint } | undefined;
      if (archived) {
        let message: RoomMessage | undefined;
        const change = await roomChanges.record(roomId, caller, now, (change) => {
          message = roomMessage(room, 0, change);
          return { case: "roomUpdated", value: message };
        });
        closed = { room: message!, change };
      }
      return { left, closed };
    });
    if (outcome) {
      this.publish({ roomId, payload: { case: "memberLeft", value: { userId: caller } }, users: [caller], change: outcome.left });
      const { closed } = outcome;
      if (closed) this.publish({ roomId, payload: { case: "roomUpdated", value: { room: closed.room } }, users: [], change: closed.change });
    }
    return {};
  }

  async inviteMember(request: InviteMemberRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { roomId, userId } = validate(memberRequest, request);
    // Checked before asking the user service, so that the answer about the room comes first,
    // and again under the room lock, where it counts.
    checkInvite(visible(await this.deps.db.fork().rooms.roomFor(roomId, caller)));
    await this.requireUser(userId);
    const outcome = await this.deps.db.transactional(async ({ rooms, memberships, roomChanges }) => {
      checkInvite(visible(await rooms.roomFor(roomId, caller, "update")));
      const added = await memberships.addMember(roomId, userId, "member");
      // Someone already in the room stays as they are: no change, no position.
      const change = added.created
        ? await roomChanges.record(roomId, caller, added.membership.joinedAt, () => joined(added.membership))
        : 0n;
      return { membership: added.membership, change };
    });
    const membership = membershipMessage(outcome.membership);
    const { change } = outcome;
    if (change) {
      this.publish({ roomId, payload: { case: "memberJoined", value: { membership, byUserId: caller } }, users: [userId], change });
    }
    return { membership };
  }

  async kickMember(request: KickMemberRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { roomId, userId } = validate(memberRequest, request);
    const change = await this.deps.db.transactional(async ({ em, rooms, memberships, roomChanges }) => {
      const { room, membership } = visible(await rooms.roomFor(roomId, caller, "update"));
      if (room.kind === "direct") throw fail.failedPrecondition("nobody can be removed from a direct conversation");
      if (!isAdmin(membership)) throw fail.permissionDenied("only the room's admins can remove members");
      if (userId === caller) throw fail.invalidArgument("userId", "use LeaveRoom to leave a room");
      const target = await memberships.membership(roomId, userId, "update");
      if (!target) throw fail.notFound("that user is not a member of this room");
      if (target.role === "owner") throw fail.permissionDenied("the owner cannot be removed");
      if (target.role === "admin" && membership.role !== "owner") throw fail.permissionDenied("only the owner can remove an admin");
      em.remove(target);
      return roomChanges.record(roomId, caller, new Date(), () => ({ case: "memberKicked", value: userId }));
    });
    this.publish({ roomId, payload: { case: "memberKicked", value: { userId, byUserId: caller } }, users: [userId], change });
    return {};
  }

  async setMemberRole(request: SetMemberRoleRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { roomId, userId } = validate(memberRequest, request);
    const role = roleFromProto(request.role);
    if (!role) throw fail.invalidArgument("role", "must be ROLE_MEMBER or ROLE_ADMIN");
    const outcome = await this.deps.db.transactional(async ({ rooms, memberships, roomChanges }) => {
      const { room, membership } = visible(await rooms.roomFor(roomId, caller, "update"));
      if (room.kind === "direct") throw fail.failedPrecondition("a direct conversation has no roles");
      if (membership?.role !== "owner") throw fail.permissionDenied("only the owner can change roles");
      const target = await memberships.membership(roomId, userId, "update");
      if (!target) throw fail.notFound("that user is not a member of this room");
      if (target.role === "owner") throw fail.failedPrecondition("the owner's role cannot be changed");
      if (target.role === role) return { target, change: 0n };
      target.role = role;
      const change = await roomChanges.record(roomId, caller, new Date(), () => ({
        case: "memberRoleChanged",
        value: membershipMessage(target),
      }));
      return { target, change };
    });
    const membership = membershipMessage(outcome.target);
    const { change } = outcome;
    if (change) {
      this.publish({ roomId, payload: { case: "memberRoleChanged", value: { membership, byUserId: caller } }, users: [userId], change });
    }
    return { membership };
  }

  /**
   * The owner hands the room to another member, and stays on as an admin. Both role changes are
   * recorded in one transaction, the new owner's first, so the lane never shows two owners or none
   * for longer than one change, and a resuming member gets both.
   */
  async transferOwnership(request: TransferOwnershipRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { roomId, userId } = validate(memberRequest, request);
    const outcome = await this.deps.db.transactional(async ({ rooms, memberships, roomChanges }) => {
      const { room, membership: seen } = visible(await rooms.roomFor(roomId, caller, "update"));
      if (room.kind === "direct") throw fail.failedPrecondition("a direct conversation has no owner");
      // Read again under the room lock: a transfer that committed while this one waited made the caller an admin.
      const membership = seen && (await memberships.membership(roomId, caller, "update"));
      if (membership?.role !== "owner") throw fail.permissionDenied("only the owner can transfer ownership");
      if (userId === caller) throw fail.invalidArgument("userId", "you are the owner already: name another member");
      const target = await memberships.membership(roomId, userId, "update");
      if (!target) throw fail.notFound("that user is not a member of this room");
      const now = new Date();
      target.role = "owner";
      const ownerChange = await roomChanges.record(roomId, caller, now, () => ({ case: "memberRoleChanged", value: membershipMessage(target) }));
      membership.role = "admin";
      const previousChange = await roomChanges.record(roomId, caller, now, () => ({
        case: "memberRoleChanged",
        value: membershipMessage(membership),
      }));
      return { target, ownerChange, previous: membership, previousChange };
    });
    const owner = membershipMessage(outcome.target);
    const previousOwner = membershipMessage(outcome.previous);
    this.publish({ roomId, payload: { case: "memberRoleChanged", value: { membership: owner, byUserId: caller } }, users: [userId], change: outcome.ownerChange });
    this.publish({
      roomId,
      payload: { case: "memberRoleChanged", value: { membership: previousOwner, byUserId: caller } },
      users: [caller],
      change: outcome.previousChange,
    });
    return { owner, previousOwner };
  }

  async listMembers(request: ListMembersRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const input = validate(z.object({ roomId: fields.id, pageSize: pageSize(PAGES.members), pageToken }), request);
    const limit = input.pageSize || MEMBERS_PAGE_DEFAULT;
    const after = decodeMembersToken(input.pageToken);
    const { rooms, memberships } = this.deps.db.fork();
    visible(await rooms.roomFor(input.roomId, caller));
    const rows = await memberships.listMembers(input.roomId, after, limit + 1);
    const page = rows.slice(0, limit);
    // One batched call per page; a profile that is gone is simply missing.
    const profiles =
      page.length === 0 ? [] : (await this.deps.users.batchGetUsers({ ids: page.map((m) => m.userId) }, asUser(caller))).users;
    const byId = new Map(profiles.map((u) => [u.id, u]));
    const last = page.at(-1);
    return {
      members: page.map((m) => ({ membership: membershipMessage(m), user: byId.get(m.userId) })),
      nextPageToken: rows.length > limit && last ? encodeToken([last.userId]) : "",
    };
  }

  async openDirectRoom(request: OpenDirectRoomRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { userId, userIds } = validate(
      z.object({ userId: fields.id.or(z.literal("")), userIds: z.array(fields.id).max(DIRECT_GROUP.maxPeople, `at most ${DIRECT_GROUP.maxPeople - 1} people besides you`) }),
      request,
    );
    if (userId && userIds.length > 0) throw fail.invalidArgument("userIds", "give userId or userIds, not both");
    const others = [...new Set(userId ? [userId] : userIds)].filter((id) => id !== caller);
    if (others.length === 0) {
      throw userId || userIds.length > 0
        ? fail.invalidArgument(userId ? "userId" : "userIds", "you cannot open a direct conversation with yourself")
        : fail.invalidArgument("userId", "name the person (userId) or the people (userIds)");
    }
    if (others.length + 1 > DIRECT_GROUP.maxPeople) {
      throw fail.invalidArgument("userIds", `a group conversation has at most ${DIRECT_GROUP.maxPeople} people, you included`);
    }
    const people = [caller, ...others].sort();
    // Two people: "<id>:<id>" (as always). A group: one key per set of people, whatever the order.
    const directKey = people.length === 2 ? people.join(":") : `g:${createHash("sha256").update(people.join(":")).digest("hex")}`;
    const existing = await this.deps.db.fork().rooms.directRoom(directKey);
    if (existing) return { room: roomMessage(existing, people.length), created: false };
    for (const other of others) await this.requireUser(other);
    const made = await this.deps.db.transactional(async ({ rooms, roomChanges }) => {
      const created = await rooms.createDirectRoom(directKey, caller, people);
      if (!created) return null;
      // The joins are the room's first changes, the caller's first; the caller made them all.
      const joins = [...created.memberships].sort((a, b) => Number(b.userId === caller) - Number(a.userId === caller));
      let lastChange = 0n;
      for (const membership of joins) {
        lastChange = await roomChanges.record(created.room.id, caller, membership.joinedAt, () => joined(membership));
      }
      return { room: created.room, lastChange };
    });
    if (!made) {
      // The other person (or another of the caller's devices) opened it a moment ago.
      const room = await this.deps.db.fork().rooms.directRoom(directKey);
      if (!room) throw new ConnectError("direct room vanished after a conflict", Code.Internal);
      return { room: roomMessage(room, people.length), created: false };
    }
    const room = roomMessage(made.room, people.length, made.lastChange);
    this.publish({ roomId: made.room.id, payload: { case: "roomCreated", value: { room } }, users: people });
    return { room, created: true };
  }

  /**
   * The room lane after `after`, ascending, for members only: a room one is not in (public or not)
   * gets the NOT_FOUND of a room that does not exist, after the same one query.
   */
  async listRoomChanges(request: ListRoomChangesRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const input = validate(listRoomChangesRequest, request);
    const limit = input.limit || CHANGES_PAGE_DEFAULT;
    const page = await this.deps.db.fork().roomChanges.page(input.roomId, caller, input.after, limit + 1);
    if (!page) throw roomNotFound();
    if (input.after > page.head) {
      // A client that holds more than the room has (its store restored from an older backup, say).
      throw new ConnectError(
        `after: position ${input.after} is beyond the room's newest change (${page.head}): drop what you hold of this room and load it afresh`,
        Code.OutOfRange,
      );
    }
    const hasMore = page.changes.length > limit;
    const changes = page.changes.slice(0, limit);
    return {
      changes: changes.map(roomChangeMessage),
      hasMore,
      lastChange: hasMore ? changes.at(-1)!.change : page.head,
    };
  }

  /** Replaced by MessageService.MarkRead, which caps the marker at the room's newest message. */
  async markRead(_request: MarkReadRequest, _ctx: CallContext): Promise<never> {
    throw new ConnectError("RoomService.MarkRead is gone: call MessageService.MarkRead", Code.Unimplemented);
  }

  /**
   * For the message service's MarkRead, which has capped `seq` at the room's newest message:
   * moves the caller's marker forward (never backwards, even when calls race).
   */
  async moveReadMarker(request: MoveReadMarkerRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { roomId, seq } = validate(z.object({ roomId: fields.id, seq: z.bigint().nonnegative("must not be negative") }), request);
    const { rooms, memberships } = this.deps.db.fork();
    const { room, membership } = visible(await rooms.roomFor(roomId, caller));
    if (!membership) throw notAMember(room);
    const before = membership.lastReadSeq;
    if (seq <= before) return { lastReadSeq: before };
    const after = await memberships.moveReadMarker(roomId, caller, seq);
    // Left or was removed meanwhile.
    if (after === null) throw notAMember(room);
    if (after > before) {
      this.publish({ roomId, payload: { case: "readMarkerMoved", value: { userId: caller, lastReadSeq: after } }, users: [caller] });
    }
    return { lastReadSeq: after };
  }

  /** For the socket tier and the message service: not on behalf of the caller, the user is named. */
  async getMembership(request: GetMembershipRequest) {
    const { roomId, userId } = validate(memberRequest, request);
    const found = await this.deps.db.fork().memberships.membershipWithRoom(roomId, userId);
    if (!found) return {};
    return {
      membership: membershipMessage(found.membership),
      roomKind: kindToProto(found.kind),
      roomArchived: found.archived,
      roomMembersCanPin: found.membersCanPin,
      roomMembersCanMentionEveryone: found.membersCanMentionEveryone,
    };
  }

  /** NOT_FOUND "user not found" when the user service does not know `userId`. */
  private async requireUser(userId: string): Promise<void> {
    try {
      await this.deps.users.getUser({ id: userId });
    } catch (error) {
      if (ConnectError.from(error).code === Code.NotFound) throw fail.notFound("user not found");
      throw error;
    }
  }

  /**
   * After the commit: see publishCommitted. `change` is the change's room lane position
   * (Event.change); a lost event is a hole in it, which ListRoomChanges fills.
   */
  private publish(outgoing: Outgoing): void {
    publishCommitted(this.deps.broker, this.deps.log, outgoing);
  }
}

/** The room, if the caller may see it: members always, anyone for a public room. */
function visible(found: { room: Room | null; membership: Membership | null }): RoomWithMembership {
  const { room, membership } = found;
  if (!room || (room.kind !== "public" && !membership)) throw roomNotFound();
  return { room, membership };
}

/** A join (or an addition) as the room lane records it: the membership as it was then. */
function joined(membership: Membership): RoomChangePayload {
  return { case: "memberJoined", value: membershipMessage(membership) };
}

/** The owner or an admin (narrows out "not a member"). */
function isAdmin(membership: Membership | null): membership is Membership {
  return membership?.role === "owner" || membership?.role === "admin";
}

/** What a caller who is not a member of a room they can see gets for a member-only action. */
function notAMember(room: Room): ConnectError {
  return room.kind === "public" ? fail.failedPrecondition("you are not a member of this room") : roomNotFound();
}

/** Who may add people: any member of a public room, admins of a private one; never to a direct room. */
function checkInvite({ room, membership }: RoomWithMembership): void {
  if (room.kind === "direct") throw fail.failedPrecondition("nobody can be added to a direct conversation");
  if (!membership) throw fail.permissionDenied("only members can invite to a room");
  if (room.kind === "private" && !isAdmin(membership)) throw fail.permissionDenied("only the room's admins can invite to a private room");
  if (room.archived) throw fail.failedPrecondition("the room is archived");
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function encodeToken(values: string[]): string {
  return Buffer.from(JSON.stringify(values)).toString("base64url");
}

function decodeToken(token: string): unknown[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (Array.isArray(values)) return values;
  } catch {
    // fall through
  }
  throw badToken();
}

const badToken = () => fail.invalidArgument("page_token", "not a token from a previous response");
const isUuid = (value: unknown): value is string => typeof value === "string" && fields.id.safeParse(value).success;

function decodePublicRoomsToken(token: string): { name: string; id: string } | undefined {
  if (token === "") return undefined;
  const [name, id, ...rest] = decodeToken(token);
  if (typeof name !== "string" || !isUuid(id) || rest.length > 0) throw badToken();
  return { name, id };
}

function decodeMembersToken(token: string): string | undefined {
  if (token === "") return undefined;
  const [userId, ...rest] = decodeToken(token);
  if (!isUuid(userId) || rest.length > 0) throw badToken();
  return userId;
}
