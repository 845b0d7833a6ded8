import { z } from "zod";
import { FIELDS, PAGES, problemOf } from "@parley/proto/rules";
import { SEARCH_PAGE, SEARCH_QUERY_RULE, SearchSyntaxError, TIME_ZONE_REFUSAL, isTimeZone, parseSearchQuery } from "@parley/proto/rules/search";
import { fields, pageLimit, seq, textSchema } from "@parley/proto/rules/zod";
import { SearchOrder } from "@parley/proto/message/v1/message_pb";
import { FILES_PER_MESSAGE_MAX } from "@parley/client/protocol";
import { call } from "../call.js";
import { EdgeError } from "../errors.js";
import { enforceLimit } from "../limits.js";
import { roomIdsOf } from "../my-rooms.js";
import { SEND_BUDGET_WINDOW_MS, sendBudgetKey } from "../../send-budget.js";
import { MessageOut, shapeMessage, shapeMessageVersion } from "../shapes.js";
import { authedProcedure, router } from "../trpc.js";

// The same rules as the message service's (the rule table): the same value gets the same answer here.
const { body, clientMsgId, id, pageToken } = fields;
// The message service decides what is an emoji (one sequence or a known :shortcode:); here only its length.
const reactionEmoji = z.string().min(1, "must not be empty").max(64, "at most 64 characters");

// --- files (issue 19): SendMessageRequest.file_ids, at most 10; with files the body may be empty ---
const sendInput = z
  .strictObject({
    roomId: id,
    body: z.string().optional().describe("trimmed, 1-4000 characters (code points); with fileIds it may be empty or left out"),
    clientMsgId: clientMsgId.optional(),
    replyToId: id.optional(),
    threadRootId: id.optional().describe("reply in this message's thread (a reply's id means its root's thread)"),
    alsoSendToRoom: z.boolean().optional().describe("with threadRootId: show the reply in the room's timeline too"),
    fileIds: z
      .array(id)
      .max(FILES_PER_MESSAGE_MAX, `at most ${FILES_PER_MESSAGE_MAX} files`)
      .optional()
      .describe("files you uploaded to this room (POST /api/v1/rooms/{roomId}/files) that no message took yet, attached in this order"),
  })
  .superRefine((input, ctx) => {
    // The body's rule of the rule table, except that a message with files may have no text.
    const raw = input.body ?? "";
    if ((input.fileIds?.length ?? 0) > 0 && raw.trim() === "") return;
    const problem = problemOf(FIELDS.body, raw);
    if (problem !== undefined) ctx.addIssue({ code: "custom", path: ["body"], message: problem });
  })
  .transform((input) => ({ ...input, body: (input.body ?? "").trim() }));


// --- search (issue 17; the syntax: docs/search.md) ---
/** The query: the service's rule (1-500 characters after trimming), and syntax the parser accepts. */
const searchQ = textSchema(SEARCH_QUERY_RULE).superRefine((value, ctx) => {
  try {
    parseSearchQuery(value);
  } catch (error) {
    if (!(error instanceof SearchSyntaxError)) throw error;
    ctx.addIssue({ code: "custom", message: error.message });
  }
});
const timeZone = z
  .string()
  .refine(isTimeZone, TIME_ZONE_REFUSAL)
  .meta({ description: "the IANA time zone the query's dates (before:, after:, on:) are days of; default UTC" });
const SEARCH_ORDER = { relevance: SearchOrder.RELEVANCE, newest: SearchOrder.NEWEST } as const;
/** The service names its request's fields; the public API names the query parameters. */
const SEARCH_FIELDS: Record<string, string> = { query: "q", timeZone: "tz", roomIds: "roomId", limit: "limit", pageToken: "cursor" };

export const SearchHitOut = z.object({
  message: MessageOut,
  snippet: z
    .array(z.object({ text: z.string(), highlighted: z.boolean().describe("matched text") }))
    .describe("the part of the body around the first match (the whole body when short), in pieces; joined, a substring of the body"),
  snippetStartsInside: z.boolean().describe("the snippet starts after the body's start (show an ellipsis)"),
  snippetEndsInside: z.boolean().describe("the snippet ends before the body's end"),
});
export const SearchOut = z.object({
  hits: z.array(SearchHitOut),
  roomCounts: z
    .array(z.object({ roomId: z.string(), count: z.number() }))
    .describe("matches per room of yours (rooms with none left out), most first, over the newest 1,000 matches"),
  countsCapped: z.boolean().describe("there are more than 1,000 matches: roomCounts count the newest 1,000"),
  nextCursor: z.string().nullable().describe("for the next page (same q, order, tz and roomId); null on the last page"),
});
export type SearchOut = z.infer<typeof SearchOut>;

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
    .input(sendInput)
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
            fileIds: input.fileIds ?? [],
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

  // --- search (issue 17) ---
  search: authedProcedure
    .meta({
      rest: {
        method: "GET",
        path: "/search",
        summary:
          "Search the messages of the rooms and conversations you are in now (thread replies too): words, \"phrases\", -word, from:@user, in:#room, before:/after:/on:YYYY-MM-DD, has:link (docs/search.md)",
        output: SearchOut,
      },
    })
    .input(
      z.strictObject({
        q: searchQ.describe("the query (docs/search.md); trimmed, 1-500 characters"),
        limit: pageLimit(SEARCH_PAGE).optional(),
        cursor: pageToken.optional(),
        order: z.enum(["relevance", "newest"]).optional().describe("relevance (weighted by recency; the default) or newest first"),
        tz: timeZone.optional(),
        roomId: id.optional().describe("only this room (one you are not in matches nothing)"),
      }),
    )
    .query(async ({ ctx, input }): Promise<SearchOut> => {
      let page;
      try {
        page = await call(ctx.caller, (o) =>
          ctx.services.messages.searchMessages(
            {
              query: input.q,
              limit: input.limit ?? SEARCH_PAGE.default,
              pageToken: input.cursor ?? "",
              order: SEARCH_ORDER[input.order ?? "relevance"],
              timeZone: input.tz ?? "",
              roomIds: input.roomId ? [input.roomId] : [],
            },
            o,
          ),
        );
      } catch (error) {
        // The service's field names (query, time_zone, page_token) become the query parameters' (q, tz, cursor).
        const field = error instanceof EdgeError ? error.details.field : undefined;
        if (error instanceof EdgeError && field && SEARCH_FIELDS[field]) {
          const named = SEARCH_FIELDS[field];
          throw new EdgeError(error.code, error.message.replace(new RegExp(`^${field}:`), `${named}:`), { ...error.details, field: named }, error);
        }
        throw error;
      }
      return {
        hits: page.hits.map((hit) => ({
          message: shapeMessage(hit.message),
          snippet: hit.snippet.map((part) => ({ text: part.text, highlighted: part.highlighted })),
          snippetStartsInside: hit.snippetStartsInside,
          snippetEndsInside: hit.snippetEndsInside,
        })),
        roomCounts: page.roomCounts.map((c) => ({ roomId: c.roomId, count: c.count })),
        countsCapped: page.countsCapped,
        nextCursor: page.nextPageToken || null,
      };
    }),

  // --- link previews (issue 19) ---
  removeLinkPreview: authedProcedure
    .meta({
      rest: {
        method: "DELETE",
        path: "/messages/:id/link-previews",
        summary: "Take a link's preview off your message (?url= the link as the preview names it); it does not come back after an edit",
        output: MessageOut,
      },
    })
    .input(z.strictObject({ id, url: z.string().min(1, "must not be empty").max(2048, "at most 2048 characters").describe("the preview's url") }))
    .mutation(async ({ ctx, input }) => {
      const { message } = await call(ctx.caller, (o) => ctx.services.messages.removeLinkPreview({ messageId: input.id, url: input.url }, o));
      return shapeMessage(message);
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
