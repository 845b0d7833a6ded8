// Who may do what in a room, asked of the room service on every call: no cache,
// so a kick or a leave takes effect on the very next call.
import { Code, ConnectError, asUser, fail } from "@parley/kit";
import type { Client } from "@connectrpc/connect";
import { Role, type RoomService } from "@parley/proto/room/v1/room_pb";

export interface RoomAccess {
  role: Role;
  archived: boolean;
  /** Room admins and the owner may delete other members' messages. */
  moderator: boolean;
  /** Admins and the owner, or every member when the room's members_can_pin is set. */
  canPin: boolean;
  /** Admins and the owner, or every member when the room's members_can_mention_everyone is set (issue 16). */
  canMentionEveryone: boolean;
}

/** ListMyRooms: the rooms a search covers (issue 17), asked on every search. */
export type RoomClient = Pick<Client<typeof RoomService>, "getMembership" | "moveReadMarker" | "listMyRooms">;

export class RoomGate {
  constructor(private readonly rooms: RoomClient) {}

  /**
   * The caller's access to a room, or NOT_FOUND with `notFoundMessage`: the same
   * answer for a room that does not exist and for one the caller is not in.
   */
  async requireMember(roomId: string, userId: string, notFoundMessage = "room not found"): Promise<RoomAccess> {
    const response = await this.membershipOf(roomId, userId);
    const membership = response?.membership;
    if (!response || !membership) throw fail.notFound(notFoundMessage);
    return {
      role: membership.role,
      archived: response.roomArchived,
      moderator: membership.role === Role.ADMIN || membership.role === Role.OWNER,
      canPin: membership.role === Role.ADMIN || membership.role === Role.OWNER || response.roomMembersCanPin,
      canMentionEveryone: membership.role === Role.ADMIN || membership.role === Role.OWNER || response.roomMembersCanMentionEveryone,
    };
  }

  /** Whether the user is a member of the room now (someone a message may mention). */
  async isMember(roomId: string, userId: string): Promise<boolean> {
    return (await this.membershipOf(roomId, userId))?.membership !== undefined;
  }

  /** The room service's answer for a member, or null for a missing room or a non-member. */
  private async membershipOf(roomId: string, userId: string) {
    let response;
    try {
      response = await this.rooms.getMembership({ roomId, userId }, asUser(userId));
    } catch (error) {
      if (ConnectError.from(error).code === Code.NotFound) return null;
      throw error;
    }
    const membership = response.membership;
    return membership && membership.role !== Role.UNSPECIFIED ? response : null;
  }
}
