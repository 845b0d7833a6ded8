// Threads (issue 16): a thread's replies, following, the caller's followed threads and their read
// markers. A reply itself is sent with messages.send (threadRootId) and reaches members on the room's
// stream like any message; its root's summary changes go out as the root's edits.
import { z } from "zod";
import { PAGES } from "@parley/proto/rules";
import { fields, pageLimit, seq } from "@parley/proto/rules/zod";
import { call } from "../call.js";
import { EdgeError } from "../errors.js";
import { listMyRooms, roomIdsOf } from "../my-rooms.js";
import { MessageOut, ThreadOut, shapeMessage, shapeThread } from "../shapes.js";
import { authedProcedure, router } from "../trpc.js";

const { id, pageToken } = fields;
const queryBoolean = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]);

export const threadsRouter = router({
  get: authedProcedure
    .meta({
      rest: { method: "GET", path: "/messages/:id/thread", summary: "A thread: its root, your follow state, and a page of its replies by seq",
        output: z.object({ thread: ThreadOut, messages: z.array(MessageOut), hasOlder: z.boolean(), hasNewer: z.boolean(), lastSeq: z.number() }),
      },
    })
    .input(z.strictObject({ id: id, before: seq.optional(), after: seq.optional(), limit: pageLimit(PAGES.messages).optional() }))
    .query(async ({ ctx, input }) => {
      if (input.before !== undefined && input.after !== undefined) {
        throw new EdgeError("BAD_REQUEST", "before and after: give at most one", { field: "before" });
      }
      const { thread } = await call(ctx.caller, (o) => ctx.services.messages.getThread({ rootId: input.id }, o));
      const shaped = shapeThread(thread);
      const cursor =
        input.before !== undefined
          ? ({ case: "beforeSeq", value: BigInt(input.before) } as const)
          : input.after !== undefined
            ? ({ case: "afterSeq", value: BigInt(input.after) } as const)
            : undefined;
      const page = await call(ctx.caller, (o) =>
        ctx.services.messages.listMessages(
          { roomId: shaped.root.roomId, threadRootId: shaped.root.id, cursor, limit: input.limit ?? PAGES.messages.default },
          o,
        ),
      );
      return {
        thread: shaped,
        messages: page.messages.map(shapeMessage),
        hasOlder: page.hasOlder,
        hasNewer: page.hasNewer,
        lastSeq: Number(page.lastSeq),
      };
    }),

  follow: authedProcedure
    .meta({ rest: { method: "PUT", path: "/threads/:rootId/follow", summary: "Follow a thread (its replies from now on count as unread)", output: ThreadOut } })
    .input(z.strictObject({ rootId: id }))
    .mutation(async ({ ctx, input }) => {
      const { thread } = await call(ctx.caller, (o) => ctx.services.messages.followThread({ rootId: input.rootId }, o));
      return shapeThread(thread);
    }),

  unfollow: authedProcedure
    .meta({ rest: { method: "DELETE", path: "/threads/:rootId/follow", summary: "Stop following a thread (until you reply in it)", output: ThreadOut } })
    .input(z.strictObject({ rootId: id }))
    .mutation(async ({ ctx, input }) => {
      const { thread } = await call(ctx.caller, (o) => ctx.services.messages.unfollowThread({ rootId: input.rootId }, o));
      return shapeThread(thread);
    }),

  read: authedProcedure
    .meta({ rest: { method: "POST", path: "/threads/:rootId/read", summary: "Mark a thread read up to seq (default: its newest reply)", output: ThreadOut } })
    .input(z.strictObject({ rootId: id, seq: seq.optional() }))
    .mutation(async ({ ctx, input }) => {
      const { thread } = await call(ctx.caller, (o) =>
        ctx.services.messages.markThreadRead({ rootId: input.rootId, seq: BigInt(input.seq ?? 0) }, o),
      );
      return shapeThread(thread);
    }),

  list: authedProcedure
    .meta({
      rest: { method: "GET", path: "/threads", summary: "The threads you follow across your rooms, newest reply first, with unread counts",
        output: z.object({
          threads: z.array(ThreadOut),
          nextCursor: z.string().nullable(),
          unreadThreadCount: z.number().describe("followed threads with unread replies, across your rooms"),
        }),
      },
    })
    .input(
      z.strictObject({ limit: pageLimit(PAGES.messages).optional(), cursor: pageToken.optional(), unreadOnly: queryBoolean.optional() }).optional(),
    )
    .query(async ({ ctx, input = {} }) => {
      // The caller's rooms with their counts, as for GET /rooms: the message service lists follows
      // only in rooms the caller is in now.
      const rooms = await call(ctx.caller, (o) => listMyRooms(ctx.services, o, ctx.log));
      const page = await call(ctx.caller, (o) =>
        ctx.services.messages.listThreads(
          { roomIds: roomIdsOf(rooms), limit: input.limit ?? PAGES.messages.default, pageToken: input.cursor ?? "", unreadOnly: input.unreadOnly ?? false },
          o,
        ),
      );
      return {
        threads: page.threads.map(shapeThread),
        nextCursor: page.nextPageToken || null,
        unreadThreadCount: rooms.reduce((sum, r) => sum + Number(r.unreadThreadCount), 0),
      };
    }),
});
