// Who may do what in a room, as the room service decides it (the server refuses the rest anyway):
// the app shows a control only to those it would let through.
import type { Role, RoomSummary } from "./types";

type RoomLike = Pick<RoomSummary, "role" | "visibility">;

const isStaff = (role: Role) => role === "owner" || role === "admin";

/** Rename, topic, description, archive or unarchive, pin policy: admins and the owner, never in a direct room. */
export const canManageRoom = (room: RoomLike) => room.visibility !== "direct" && isStaff(room.role);

/** Make or unmake admins, hand the room over: the owner only. */
export const canChangeRoles = (room: RoomLike) => room.visibility !== "direct" && room.role === "owner";

/** Remove someone: admins remove plain members, the owner removes admins too; nobody removes the owner or themselves. */
export function canRemove(room: RoomLike, target: { role: Role; isMe: boolean }): boolean {
  if (room.visibility === "direct" || target.isMe || target.role === "owner" || !isStaff(room.role)) return false;
  return target.role === "member" || room.role === "owner";
}

/** Add people: anyone in a public room, admins of a private one; nobody to an archived or direct room. */
export const canInvite = (room: RoomLike & Pick<RoomSummary, "archived">) =>
  room.visibility !== "direct" && !room.archived && (room.visibility === "public" || isStaff(room.role));

/** The owner cannot leave while others remain: they hand the room over first. */
export const mustTransferToLeave = (room: RoomLike & Pick<RoomSummary, "memberCount">) => room.role === "owner" && room.memberCount > 1;
