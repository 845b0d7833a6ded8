// What the message behaviours need from their surroundings: a message service to
// call, the broker it publishes on, and people and rooms to act with. Two worlds
// provide it: the service alone next to a fake room service (fake-room-world.ts),
// and the whole all-in-one Parley with the real room service (parley-world.ts).
import type { Client } from "@connectrpc/connect";
import type { Broker } from "@parley/kit";
import type { FileService } from "@parley/proto/file/v1/file_pb";
import type { MessageService } from "@parley/proto/message/v1/message_pb";

export type RoomKindName = "public" | "private";

export interface World {
  messages: Client<typeof MessageService>;
  /** FileService, hosted by the message process (issue 19). */
  files: Client<typeof FileService>;
  /** The broker the message service publishes on. */
  broker: Broker;
  /** REDIS_PREFIX of that broker's channels (when it is Redis). */
  redisPrefix: string;
  /** A new user's id; with a username to be mentioned by (issue 16). */
  newUser(username?: string): Promise<string>;
  /** A room owned by `ownerId`, with `memberIds` as plain members (and a random name unless given). */
  createRoom(ownerId: string, kind: RoomKindName, memberIds?: string[], name?: string): Promise<string>;
  addMember(roomId: string, byId: string, userId: string): Promise<void>;
  makeAdmin(roomId: string, ownerId: string, userId: string): Promise<void>;
  kick(roomId: string, byId: string, userId: string): Promise<void>;
  leave(roomId: string, userId: string): Promise<void>;
  archive(roomId: string, ownerId: string): Promise<void>;
  /** Sets the room's members_can_pin (issue 16). */
  setMembersCanPin(roomId: string, ownerId: string, value: boolean): Promise<void>;
  /** Sets the room's members_can_mention_everyone (issue 16). */
  setMembersCanMentionEveryone(roomId: string, ownerId: string, value: boolean): Promise<void>;
  stop(): Promise<void>;
}
