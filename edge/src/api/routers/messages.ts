import { z } from "zod";
import { rules } from "@parley/kit";
import { call } from "../call.js";
import { EdgeError } from "../errors.js";
import { enforceLimit } from "../limits.js";
import { SEND_BUDGET_WINDOW_MS, sendBudgetKey } from "../../send-budget.js";
import { shapeMessage } from "../shapes.js";
import { authedProcedure, router } from "../trpc.js";

const seq = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
// The message service applies the exact rules (1-4000 characters after trimming); this bounds the size early.
const body = z.string().min(1, "must not be empty").max(16_000, "at most 4000 characters");
const clientMsgId = z.string().regex(/^[A-Za-z0-9_:.-]{1,64}$/, "1-64 letters, digits, '_', ':', '.' or '-'");

export const messagesRouter = router({
  list: authedProcedure
    .meta({ rest: { method: "GET", path: "/messages/:roomId", summary: "A page of a room's history, ordered by seq" } })
    .input(
      z.strictObject({
        roomId: rules.uuid,
        before: seq.optional(),
        after: seq.optional(),
        around: seq.optional(),
        limit: z.coerce.number().int().min(1).max(100).optional(),
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
        ctx.services.messages.listMessages({ roomId: input.roomId, cursor, limit: input.limit ?? 50 }, o),
      );
      return {
        messages: page.messages.map(shapeMessage),
        hasOlder: page.hasOlder,
        hasNewer: page.hasNewer,
        lastSeq: Number(page.lastSeq),
      };
    }),

  send: authedProcedure
    .meta({ rest: { method: "POST", path: "/messages", status: 201, summary: "Send a message (a repeated clientMsgId returns the original)" }, rateClass: "send" })
    .input(z.strictObject({ roomId: rules.uuid, body, clientMsgId: clientMsgId.optional(), replyToId: rules.uuid.optional() }))
    .mutation(async ({ ctx, input }) => {
      await enforceLimit(ctx, sendBudgetKey(ctx.user.id), ctx.limits.sendPerUser, SEND_BUDGET_WINDOW_MS);
      await enforceLimit(ctx, `edge:send:address:${ctx.caller.clientAddress}`, ctx.limits.sendPerAddress, 10_000);
      const { message } = await call(ctx.caller, (o) =>
        ctx.services.messages.sendMessage(
          { roomId: input.roomId, body: input.body, clientMsgId: input.clientMsgId ?? "", replyToId: input.replyToId ?? "" },
          o,
        ),
      );
      return shapeMessage(message);
    }),

  edit: authedProcedure
    .meta({ rest: { method: "PUT", path: "/messages/:id", summary: "Edit your own message" } })
    .input(z.strictObject({ id: rules.uuid, body }))
    .mutation(async ({ ctx, input }) => {
      const { message } = await call(ctx.caller, (o) => ctx.services.messages.editMessage({ messageId: input.id, body: input.body }, o));
      return shapeMessage(message);
    }),

  delete: authedProcedure
    .meta({ rest: { method: "DELETE", path: "/messages/:id", status: 204, summary: "Delete a message (yours, or any as a room admin)" } })
    .input(z.strictObject({ id: rules.uuid }))
    .mutation(async ({ ctx, input }) => {
      await call(ctx.caller, (o) => ctx.services.messages.deleteMessage({ messageId: input.id }, o));
    }),
});
