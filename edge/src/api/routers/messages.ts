import { z } from "zod";
import { PAGES } from "@parley/proto/rules";
import { fields, pageLimit, seq } from "@parley/proto/rules/zod";
import { call } from "../call.js";
import { EdgeError } from "../errors.js";
import { enforceLimit } from "../limits.js";
import { roomIdsOf } from "../my-rooms.js";
import { SEND_BUDGET_WINDOW_MS, sendBudgetKey } from "../../send-budget.js";
import { shapeMessage, shapeMessageVersion } from "../shapes.js";
import { authedProcedure, router } from "../trpc.js";

// The same rules as the message service's (the rule table): the same value gets the same answer here.
const { body, clientMsgId, id, pageToken } = fields;
// The message service decides what is an emoji (one sequence or a known :shortcode:); here only its length.
const reactionEmoji = z.string().min(1, "must not be empty").max(64, "at most 64 characters");

export const messagesRouter = router({
  list: authedProcedure
    .meta({ rest: { method: "GET", path: "/messages/:roomId", summary: "A page of a room's history, ordered by seq" } })
    .input(
      z.strictObject({
        roomId: id,
        before: seq.optional(),
        after: seq.optional(),
        around: seq.optional(),
        limit: pageLimit(PAGES.messages).optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const cursors = [input.before, input.after, input.around].filter((c) => c !== undefined);
      if (cursors.length > 1) throw new EdgeError("BAD_REQUEST", "before, after and around: give at most one", { field: "before" });
      const cursor =
        input.before !== undefined
          ? ({ case: "beforeSeq", value: BigInt(input.before) } as const)
          : input.after !== undefined
            ? ({ case: "afterSeq", value: BigInt(input.after) } as const)
            : input.around !== undefined
              ? ({ case: "aroundSeq", value: BigInt(input.around) } as const)
              : undefined;
      const page = await call(ctx.caller, (o) =>
        ctx.services.messages.listMessages({ roomId: input.roomId, cursor, limit: input.limit ?? PAGES.messages.default }, o),
      );
      return {
        messages: page.messages.map(shapeMessage),
        hasOlder: page.hasOlder,
        hasNewer: page.hasNewer,
        lastSeq: Number(page.lastSeq),
        lastChange: Number(page.lastChange),
      };
    }),

  send: authedProcedure
    .meta({ rest: { method: "POST", path: "/messages", status: 201, summary: "Send a message (a repeated clientMsgId returns the original)" }, rateClass: "send" })
    .input(
      z.strictObject({
        roomId: id,
        body,
        clientMsgId: clientMsgId.optional(),
        replyToId: id.optional(),
        threadRootId: id.optional().describe("reply in this message's thread (a reply's id means its root's thread)"),
        alsoSendToRoom: z.boolean().optional().describe("with threadRootId: show the reply in the room's timeline too"),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await enforceLimit(ctx, sendBudgetKey(ctx.user.id), ctx.limits.sendPerUser, SEND_BUDGET_WINDOW_MS);
      await enforceLimit(ctx, `edge:send:address:${ctx.caller.clientAddress}`, ctx.limits.sendPerAddress, 10_000);
      const { message } = await call(ctx.caller, (o) =>
        ctx.services.messages.sendMessage(
          {
            roomId: input.roomId,
            body: input.body,
            clientMsgId: input.clientMsgId ?? "",
            replyToId: input.replyToId ?? "",
            threadRootId: input.threadRootId ?? "",
            alsoSendToRoom: input.alsoSendToRoom ?? false,
          },
          o,
        ),
      );
      return shapeMessage(message);
    }),

  edit: authedProcedure
    .meta({ rest: { method: "PUT", path: "/messages/:id", summary: "Edit your own message" } })
    .input(z.strictObject({ id: id, body }))
    .mutation(async ({ ctx, input }) => {
      const { message } = await call(ctx.caller, (o) => ctx.services.messages.editMessage({ messageId: input.id, body: input.body }, o));
      return shapeMessage(message);
    }),

  delete: authedProcedure
    .meta({ rest: { method: "DELETE", path: "/messages/:id", status: 204, summary: "Delete a message (yours, or any as a room admin)" } })
    .input(z.strictObject({ id: id }))
    .mutation(async ({ ctx, input }) => {
      await call(ctx.caller, (o) => ctx.services.messages.deleteMessage({ messageId: input.id }, o));
    }),

  // --- reactions ---
  react: authedProcedure
    .meta({
      rest: {
        method: "PUT",
        path: "/messages/:id/reactions/:emoji",
        summary: "React to a message with an emoji (URL-encoded, or a :shortcode:); again changes nothing",
      },
    })
    .input(z.strictObject({ id: id, emoji: reactionEmoji }))
    .mutation(async ({ ctx, input }) => {
      const { message } = await call(ctx.caller, (o) => ctx.services.messages.addReaction({ messageId: input.id, emoji: input.emoji }, o));
      return shapeMessage(message);
    }),

  unreact: authedProcedure
    .meta({ rest: { method: "DELETE", path: "/messages/:id/reactions/:emoji", summary: "Take your reaction with an emoji away" } })
    .input(z.strictObject({ id: id, emoji: reactionEmoji }))
    .mutation(async ({ ctx, input }) => {
      const { message } = await call(ctx.caller, (o) => ctx.services.messages.removeReaction({ messageId: input.id, emoji: input.emoji }, o));
      return shapeMessage(message);
    }),

  // --- pins (issue 16) ---
  pin: authedProcedure
    .meta({ rest: { method: "PUT", path: "/messages/:id/pin", summary: "Pin a message (room admins, or every member if the room allows)" } })
    .input(z.strictObject({ id: id }))
    .mutation(async ({ ctx, input }) => {
      const { message } = await call(ctx.caller, (o) => ctx.services.messages.pinMessage({ messageId: input.id }, o));
      return shapeMessage(message);
    }),

  unpin: authedProcedure
    .meta({ rest: { method: "DELETE", path: "/messages/:id/pin", summary: "Unpin a message (who may pin)" } })
    .input(z.strictObject({ id: id }))
    .mutation(async ({ ctx, input }) => {
      const { message } = await call(ctx.caller, (o) => ctx.services.messages.unpinMessage({ messageId: input.id }, o));
      return shapeMessage(message);
    }),

  pins: authedProcedure
    .meta({ rest: { method: "GET", path: "/rooms/:id/pins", summary: "A room's pinned messages, newest pin first" } })
    .input(z.strictObject({ id: id, limit: pageLimit(PAGES.messages).optional(), cursor: pageToken.optional() }))
    .query(async ({ ctx, input }) => {
      const page = await call(ctx.caller, (o) =>
        ctx.services.messages.listPins({ roomId: input.id, limit: input.limit ?? PAGES.messages.default, pageToken: input.cursor ?? "" }, o),
      );
      return { messages: page.messages.map(shapeMessage), nextCursor: page.nextPageToken || null };
    }),

  // --- mentions (issue 16) ---
  mentions: authedProcedure
    .meta({ rest: { method: "GET", path: "/mentions", summary: "Messages that mention you (@username, @room, @here) in the rooms you are in, newest first" } })
    .input(z.strictObject({ limit: pageLimit(PAGES.messages).optional(), cursor: pageToken.optional() }))
    .query(async ({ ctx, input }) => {
      const page = await call(ctx.caller, async (o) => {
        // The rooms the caller is in now (as GetRoomStats callers pass them): a room left or
        // kicked from, and any room they were never in, gives nothing.
        const { rooms } = await ctx.services.rooms.listMyRooms({}, o);
        return ctx.services.messages.listMentions({ roomIds: roomIdsOf(rooms), limit: input.limit ?? PAGES.messages.default, pageToken: input.cursor ?? "" }, o);
      });
      return { messages: page.messages.map(shapeMessage), nextCursor: page.nextPageToken || null };
    }),

  // --- edit history (issue 16) ---
  versions: authedProcedure
    .meta({ rest: { method: "GET", path: "/messages/:id/versions", summary: "An edited message's earlier texts, newest first (empty once deleted)" } })
    .input(z.strictObject({ id }))
    .query(async ({ ctx, input }) => {
      const { versions } = await call(ctx.caller, (o) => ctx.services.messages.listMessageVersions({ messageId: input.id }, o));
      return { versions: versions.map(shapeMessageVersion) };
    }),
});
