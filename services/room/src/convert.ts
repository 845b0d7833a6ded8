// Rooms and memberships as the contract shows them.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { toTimestamp } from "@parley/kit";
import { Role, RoomKind, type MembershipSchema, type RoomSchema } from "@parley/proto/room/v1/room_pb";
import type { Membership, RoleName, Room, RoomKindName } from "./entities.js";

export type RoomMessage = MessageInitShape<typeof RoomSchema>;
export type MembershipMessage = MessageInitShape<typeof MembershipSchema>;

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

/** The pair of a direct room, from its key "<smaller id>:<larger id>". */
export function directMemberIds(room: Room): string[] {
  return room.directKey ? room.directKey.split(":") : [];
}

export function roomMessage(room: Room, memberCount: number): RoomMessage {
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
