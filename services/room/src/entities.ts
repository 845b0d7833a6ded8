// The room service's tables: rooms (public, private and direct), memberships, which carry each
// member's role and read marker, and room_changes, the room lane of each room's stream.
import { defineEntity, type InferEntity } from "@mikro-orm/core";

const p = defineEntity.properties;

export const Room = defineEntity({
  name: "Room",
  tableName: "rooms",
  properties: {
    id: p.uuid().primary(),
    kind: p.enum(["public", "private", "direct"]),
    // Empty for direct rooms.
    name: p.string().length(80).default(""),
    topic: p.string().length(500).default(""),
    creatorId: p.uuid(),
    createdAt: p.datetime().onCreate(() => new Date()),
    // Archived rooms are read-only and left out of the public directory.
    archived: p.boolean().default(false),
    // Direct rooms only: "<smaller user id>:<larger user id>" for two people. Unique, so that both people
    // opening their conversation at once end up in the same room (insert ... on conflict).
    // A group's key is "g:<sha256 of its sorted members>" (see Migration20261202123000).
    directKey: p.string().length(73).nullable().unique(),
    // Direct rooms only: every member, ascending, colon-separated (2 to 8 people).
    directMembers: p.text().nullable(),
    // The room lane's newest position: every change takes the next one (RoomChangeRepository.take).
    lastChange: p.bigint().default(0),
    // Every member may pin messages (issue 16); otherwise admins and the owner only.
    membersCanPin: p.boolean().default(false),
    // What the room is for, shown in its settings and details (0-1,000 characters).
    description: p.text().default(""),
    // Every member may use @room / @here (issue 16); otherwise admins and the owner only.
    membersCanMentionEveryone: p.boolean().default(true),
  },
  indexes: [
    // The public directory: keyset pages over (lower(name), id), open rooms only.
    {
      name: "rooms_public_directory_index",
      expression: `create index "rooms_public_directory_index" on "rooms" (lower("name"), "id") where "kind" = 'public' and not "archived"`,
    },
  ],
});
export type Room = InferEntity<typeof Room>;
export type RoomKindName = Room["kind"];

export const Membership = defineEntity({
  name: "Membership",
  tableName: "memberships",
  properties: {
    roomId: p.uuid().primary(),
    // Indexed: every "my rooms" question starts from the user.
    userId: p.uuid().primary().index(),
    role: p.enum(["owner", "admin", "member"]),
    joinedAt: p.datetime().onCreate(() => new Date()),
    // Highest seq the member has read; only ever moves forward.
    lastReadSeq: p.bigint().default(0),
  },
});
export type Membership = InferEntity<typeof Membership>;
export type RoleName = Membership["role"];

/**
 * One change of the room lane at its position (1, 2, 3... per room, gapless in commit order), as it
 * was when made. `payload` is a binary parley.room.v1.RoomChange holding only its oneof (joined,
 * left, kicked, role changed, room updated): the position, the time and the author are the columns.
 */
export const RoomChange = defineEntity({
  name: "RoomChange",
  tableName: "room_changes",
  properties: {
    roomId: p.uuid().primary(),
    change: p.bigint().primary(),
    byUserId: p.uuid(),
    createdAt: p.datetime(),
    payload: p.blob(),
  },
});
export type RoomChange = InferEntity<typeof RoomChange>;

export const entities = [Room, Membership, RoomChange];
