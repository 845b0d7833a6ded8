// The message service with the real room and user services it calls (one broker) as the
// message behaviours' world.
import { randomBytes } from "node:crypto";
import { asUser } from "@parley/kit";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { Role, RoomKind } from "@parley/proto/room/v1/room_pb";
import { uuidv7 } from "uuidv7";
import type { World } from "./world.js";

export type ParleyWorld = World & { parley: TestParley<"message"> };

export async function startParleyWorld(): Promise<ParleyWorld> {
  const parley = await startTestParley({ services: ["message"] });
  const { rooms } = parley;
  return {
    parley,
    messages: parley.messages,
    files: parley.files,
    broker: parley.broker,
    redisPrefix: parley.env.REDIS_PREFIX ?? "parley:",
    async newUser(name?: string) {
      const username = name ?? `u_${randomBytes(5).toString("hex")}`;
      const { user } = await parley.users.createUser({ id: uuidv7(), username, email: `${username}@example.com`, displayName: "" });
      return user!.id;
    },
    async createRoom(ownerId, kind, memberIds = [], name = `room ${randomBytes(3).toString("hex")}`) {
      const { room } = await rooms.createRoom(
        { name, kind: kind === "public" ? RoomKind.PUBLIC : RoomKind.PRIVATE },
        asUser(ownerId),
      );
      for (const userId of memberIds) await rooms.inviteMember({ roomId: room!.id, userId }, asUser(ownerId));
      return room!.id;
    },
    async addMember(roomId, byId, userId) {
      await rooms.inviteMember({ roomId, userId }, asUser(byId));
    },
    async makeAdmin(roomId, ownerId, userId) {
      await rooms.setMemberRole({ roomId, userId, role: Role.ADMIN }, asUser(ownerId));
    },
    async kick(roomId, byId, userId) {
      await rooms.kickMember({ roomId, userId }, asUser(byId));
    },
    async leave(roomId, userId) {
      await rooms.leaveRoom({ roomId }, asUser(userId));
    },
    async archive(roomId, ownerId) {
      await rooms.updateRoom({ roomId, room: { archived: true }, updateMask: { paths: ["archived"] } }, asUser(ownerId));
    },
    async setMembersCanPin(roomId, ownerId, value) {
      await rooms.updateRoom({ roomId, room: { membersCanPin: value }, updateMask: { paths: ["members_can_pin"] } }, asUser(ownerId));
    },
    async setMembersCanMentionEveryone(roomId, ownerId, value) {
      await rooms.updateRoom(
        { roomId, room: { membersCanMentionEveryone: value }, updateMask: { paths: ["members_can_mention_everyone"] } },
        asUser(ownerId),
      );
    },
    stop: () => parley.stop(),
  };
}
