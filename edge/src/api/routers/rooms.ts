import { z } from "zod";
import { DIRECT_GROUP, PAGES } from "@parley/proto/rules";
import { fields, pageLimit, seq } from "@parley/proto/rules/zod";
import { call } from "../call.js";
import { listMyRooms } from "../my-rooms.js";
import {
  kindFromVisibility,
  roleFromName,
  shapeMember,
  shapeMembership,
  shapeMessage,
  shapeRoom,
  shapeRoomChange,
  shapeRoomSummary,
} from "../shapes.js";
import { authedProcedure, router } from "../trpc.js";

// The same rules as the room service's (the rule table): the same value gets the same answer here.
const { id: roomId, roomName: name, roomTopic: topic, roomDescription: description, roomQuery, pageToken } = fields;

export const roomsRouter = router({
  list: authedProcedure
    .meta({ rest: { method: "GET", path: "/rooms", summary: "Your rooms and direct conversations, most recent activity first" } })
    .query(async ({ ctx }) => {
      const rooms = await call(ctx.caller, (o) => listMyRooms(ctx.services, o, ctx.log));
      return { rooms: rooms.map(shapeRoomSummary) };
    }),

  browse: authedProcedure
    .meta({ rest: { method: "GET", path: "/rooms/public", summary: "Public rooms you can join" }, rateClass: "search" })
    .input(
      z.strictObject({
        q: roomQuery.optional(),
        limit: pageLimit(PAGES.publicRooms).optional(),
        cursor: pageToken.optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const page = await call(ctx.caller, (o) =>
        ctx.services.rooms.listPublicRooms({ query: input.q ?? "", pageSize: input.limit ?? PAGES.publicRooms.default, pageToken: input.cursor ?? "" }, o),
      );
      return { rooms: page.rooms.map(shapeRoom), nextCursor: page.nextPageToken || null };
    }),

  create: authedProcedure
    .meta({ rest: { method: "POST", path: "/rooms", status: 201, summary: "Create a public or private room" } })
    .input(z.strictObject({ name, topic: topic.optional(), visibility: z.enum(["public", "private"]) }))
    .mutation(async ({ ctx, input }) => {
      const { room } = await call(ctx.caller, (o) =>
        ctx.services.rooms.createRoom({ name: input.name, topic: input.topic ?? "", kind: kindFromVisibility[input.visibility] }, o),
      );
      return shapeRoom(room);
    }),

  changes: authedProcedure
    .meta({
      rest: {
        method: "GET",
        path: "/rooms/:id/changes",
        summary:
          "Every change to a room after a stream position, once each, in order: messages created, edited or deleted (each in its current state), and member and room changes. Page with the returned position until hasMore is false",
      },
    })
    .input(
      z.strictObject({
        id: roomId,
        afterMessages: seq.optional().describe("the message lane position you have (a message's change, or a page's lastChange); 0 or none: from the start"),
        afterRoom: seq.optional().describe("the room lane position you have (a room's lastChange, or a room change's change); 0 or none: from the start"),
        limit: pageLimit(PAGES.changes).optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const limit = input.limit ?? PAGES.changes.default;
      const afterMessages = BigInt(input.afterMessages ?? 0);
      const afterRoom = BigInt(input.afterRoom ?? 0);
      const [messages, room] = await Promise.all([
        call(ctx.caller, (o) => ctx.services.messages.listChanges({ roomId: input.id, after: afterMessages, limit }, o)),
        call(ctx.caller, (o) => ctx.services.rooms.listRoomChanges({ roomId: input.id, after: afterRoom, limit }, o)),
      ]);
      return {
        messages: messages.messages.map(shapeMessage),
        roomChanges: room.changes.map(shapeRoomChange).filter((c) => c !== undefined),
        position: { messages: Number(messages.lastChange), room: Number(room.lastChange) },
        hasMore: messages.hasMore || room.hasMore,
        lastSeq: Number(messages.lastSeq),
      };
    }),

  get: authedProcedure
    .meta({ rest: { method: "GET", path: "/rooms/:id", summary: "A room you are in, or a public room" } })
    .input(z.strictObject({ id: roomId }))
    .query(async ({ ctx, input }) => {
      const { room, membership } = await call(ctx.caller, (o) => ctx.services.rooms.getRoom({ roomId: input.id }, o));
      return { ...shapeRoom(room), membership: membership ? shapeMembership(membership) : null };
    }),

  update: authedProcedure
    .meta({
      rest: { method: "PUT", path: "/rooms/:id", summary: "Rename, change the topic or description, archive or unarchive a room, or let every member pin or use @room / @here (admins)" },
    })
    .input(
      z.strictObject({
        id: roomId,
        name: name.optional(),
        topic: topic.optional(),
        description: description.optional(),
        archived: z.boolean().optional(),
        membersCanPin: z.boolean().optional().describe("every member may pin messages (otherwise admins and the owner)"),
        membersCanMentionEveryone: z.boolean().optional().describe("every member may use @room and @here (otherwise admins and the owner)"),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { id, ...changes } = input;
      const paths = Object.keys(changes)
        .filter((k) => changes[k as keyof typeof changes] !== undefined)
        .map((k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
      const { room } = await call(ctx.caller, (o) =>
        ctx.services.rooms.updateRoom({ roomId: id, room: changes, updateMask: { paths } }, o),
      );
      return shapeRoom(room);
    }),

  join: authedProcedure
    .meta({ rest: { method: "POST", path: "/rooms/:id/join", summary: "Join a public room" } })
    .input(z.strictObject({ id: roomId }))
    .mutation(async ({ ctx, input }) => {
      const { room, membership } = await call(ctx.caller, (o) => ctx.services.rooms.joinRoom({ roomId: input.id }, o));
      return { ...shapeRoom(room), membership: shapeMembership(membership) };
    }),

  leave: authedProcedure
    .meta({ rest: { method: "POST", path: "/rooms/:id/leave", status: 204, summary: "Leave a room" } })
    .input(z.strictObject({ id: roomId }))
    .mutation(async ({ ctx, input }) => {
      await call(ctx.caller, (o) => ctx.services.rooms.leaveRoom({ roomId: input.id }, o));
    }),

  members: authedProcedure
    .meta({ rest: { method: "GET", path: "/rooms/:id/members", summary: "A room's members with their profiles" } })
    .input(
      z.strictObject({
        id: roomId,
        limit: pageLimit(PAGES.members).optional(),
        cursor: pageToken.optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const page = await call(ctx.caller, (o) =>
        ctx.services.rooms.listMembers({ roomId: input.id, pageSize: input.limit ?? PAGES.members.default, pageToken: input.cursor ?? "" }, o),
      );
      return { members: page.members.map(shapeMember), nextCursor: page.nextPageToken || null };
    }),

  invite: authedProcedure
    .meta({ rest: { method: "POST", path: "/rooms/:id/members", status: 201, summary: "Add someone to a room" } })
    .input(z.strictObject({ id: roomId, userId: roomId }))
    .mutation(async ({ ctx, input }) => {
      const { membership } = await call(ctx.caller, (o) =>
        ctx.services.rooms.inviteMember({ roomId: input.id, userId: input.userId }, o),
      );
      return shapeMembership(membership);
    }),

  kick: authedProcedure
    .meta({ rest: { method: "DELETE", path: "/rooms/:id/members/:userId", status: 204, summary: "Remove a member (admins)" } })
    .input(z.strictObject({ id: roomId, userId: roomId }))
    .mutation(async ({ ctx, input }) => {
      await call(ctx.caller, (o) => ctx.services.rooms.kickMember({ roomId: input.id, userId: input.userId }, o));
    }),

  setRole: authedProcedure
    .meta({ rest: { method: "PUT", path: "/rooms/:id/members/:userId", summary: "Make a member an admin or a plain member (owner)" } })
    .input(z.strictObject({ id: roomId, userId: roomId, role: z.enum(["admin", "member"]) }))
    .mutation(async ({ ctx, input }) => {
      const { membership } = await call(ctx.caller, (o) =>
        ctx.services.rooms.setMemberRole({ roomId: input.id, userId: input.userId, role: roleFromName[input.role] }, o),
      );
      return shapeMembership(membership);
    }),

  transferOwnership: authedProcedure
    .meta({
      rest: {
        method: "POST",
        path: "/rooms/:id/transfer-ownership",
        summary: "Make another member the room's owner; you stay on as an admin (owner)",
      },
    })
    .input(z.strictObject({ id: roomId, userId: roomId.describe("the member who becomes the owner") }))
    .mutation(async ({ ctx, input }) => {
      const { owner, previousOwner } = await call(ctx.caller, (o) =>
        ctx.services.rooms.transferOwnership({ roomId: input.id, userId: input.userId }, o),
      );
      return { owner: shapeMembership(owner), previousOwner: shapeMembership(previousOwner) };
    }),

  openDirect: authedProcedure
    .meta({
      rest: {
        method: "POST",
        path: "/rooms/direct",
        summary: "Open (or reuse) the direct conversation with someone (userId), or with a group of 2 to 7 others (userIds)",
      },
    })
    .input(
      z
        .strictObject({
          userId: roomId.optional(),
          userIds: z.array(roomId).min(1).max(DIRECT_GROUP.maxPeople, `at most ${DIRECT_GROUP.maxPeople - 1} people besides you`).optional(),
        })
        .refine((v) => (v.userId === undefined) !== (v.userIds === undefined), { message: "give userId or userIds" }),
    )
    .mutation(async ({ ctx, input }) => {
      const { room, created } = await call(ctx.caller, (o) =>
        ctx.services.rooms.openDirectRoom({ userId: input.userId ?? "", userIds: input.userIds ?? [] }, o),
      );
      return { ...shapeRoom(room), created };
    }),

  markRead: authedProcedure
    .meta({ rest: { method: "POST", path: "/rooms/:id/read", summary: "Move your read marker forward" } })
    .input(z.strictObject({ id: roomId, seq }))
    .mutation(async ({ ctx, input }) => {
      const { lastReadSeq } = await call(ctx.caller, (o) =>
        ctx.services.messages.markRead({ roomId: input.id, seq: BigInt(input.seq) }, o),
      );
      return { lastReadSeq: Number(lastReadSeq) };
    }),
});
