// Rooms, memberships and room changes as the contract shows them.
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { toTimestamp } from "@parley/kit";
import { Role, RoomChangeSchema, RoomKind, type MembershipSchema, type RoomSchema } from "@parley/proto/room/v1/room_pb";
import type { Membership, RoleName, Room, RoomChange, RoomKindName } from "./entities.js";

export type RoomMessage = MessageInitShape<typeof RoomSchema>;
export type MembershipMessage = MessageInitShape<typeof MembershipSchema>;
export type RoomChangeMessage = MessageInitShape<typeof RoomChangeSchema>;
/** What a room change did: RoomChange's oneof (joined, left, kicked, role changed, room updated). */
export type RoomChangePayload = NonNullable<RoomChangeMessage["payload"]>;

const KINDS: Record<RoomKindName, RoomKind> = {
  public: RoomKind.PUBLIC,
  private: RoomKind.PRIVATE,
  direct: RoomKind.DIRECT,
};

const ROLES: Record<RoleName, Role> = {
  owner: Role.OWNER,
  admin: Role.ADMIN,
  member: Role.MEMBER,
};

export const kindToProto = (kind: RoomKindName): RoomKind => KINDS[kind];

export function roleFromProto(role: Role): RoleName | undefined {
  return role === Role.ADMIN ? "admin" : role === Role.MEMBER ? "member" : undefined;
}

/** The people of a direct room, ascending (a 1:1 room made before groups existed: from its key). */
export function directMemberIds(room: Room): string[] {
  if (room.directMembers) return room.directMembers.split(":");
  return room.directKey && !room.directKey.startsWith("g:") ? room.directKey.split(":") : [];
}

/**
 * `lastChange`: the room lane's position the message stands at, when the caller has just taken one
 * in its transaction (the entity keeps the value it was read with: the position is taken in SQL).
 */
export function roomMessage(room: Room, memberCount: number, lastChange: bigint = room.lastChange): RoomMessage {
  return {
    id: room.id,
    kind: KINDS[room.kind],
    name: room.name,
    topic: room.topic,
    creatorId: room.creatorId,
    createTime: toTimestamp(room.createdAt),
    archived: room.archived,
    memberCount,
    directMemberIds: directMemberIds(room),
    lastChange,
    membersCanPin: room.membersCanPin,
    description: room.description,
    membersCanMentionEveryone: room.membersCanMentionEveryone,
  };
}

export function membershipMessage(membership: Membership): MembershipMessage {
  return {
    roomId: membership.roomId,
    userId: membership.userId,
    role: ROLES[membership.role],
    joinTime: toTimestamp(membership.joinedAt),
    lastReadSeq: membership.lastReadSeq,
  };
}

/** room_changes.payload: a RoomChange with only its oneof set (the other fields are columns). */
export function encodeRoomChangePayload(payload: RoomChangePayload): Buffer {
  return Buffer.from(toBinary(RoomChangeSchema, create(RoomChangeSchema, { payload })));
}

export function roomChangeMessage(row: RoomChange): RoomChangeMessage {
  return {
    change: row.change,
    time: toTimestamp(row.createdAt),
    byUserId: row.byUserId,
    payload: fromBinary(RoomChangeSchema, row.payload).payload,
  };
}
