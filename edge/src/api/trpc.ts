// tRPC, initialised once: the router factory and the two kinds of procedure.
import { initTRPC, TRPCError } from "@trpc/server";
import type { z } from "zod";
import { TokenRejectedError } from "@parley/kit/tokens";
import { NUL_RULE, pathOfNul } from "@parley/proto/rules";
import type { Context } from "./context.js";
import { describeError, EdgeError } from "./errors.js";
import { enforceLimit } from "./limits.js";

/** How a procedure is exposed in the REST API under /api/v1 (see rest.ts). */
export interface RestMeta {
  rest?: {
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
    /** Path below /api/v1, with `:param` segments filled from the input. */
    path: string;
    /** Success status: 200 by default, 201 for creations, 204 for no body. */
    status?: 200 | 201 | 204;
    summary: string;
    /** The answer's shape, for the OpenAPI document (responses are built by the shapers in shapes.ts). */
    output?: z.ZodType;
  };
  /**
   * Which per-user budget a call draws on: by default "read" for queries and "write" for
   * mutations; "search" for costly lookups; "send" for procedures with their own limits.
   */
  rateClass?: RateClass;
}

type RateClass = "read" | "search" | "write" | "send";

const t = initTRPC
  .context<Context>()
  .meta<RestMeta>()
  .create({
    // Internals (stack, causes) never reach a client, in any mode.
    errorFormatter({ shape, error }) {
      const { message, field, retryAfterSeconds, limit } = describeError(error);
      return {
        message,
        code: shape.code,
        data: {
          code: shape.data.code,
          httpStatus: shape.data.httpStatus,
          path: shape.data.path,
          ...(field && { field }),
          ...(retryAfterSeconds && { retryAfterSeconds }),
          ...(limit && { limit }),
        },
      };
    },
  });

export const router = t.router;

/** Every procedure: input holding NUL is refused before anything reads it (no layer below can store it). */
const procedure = t.procedure.use(async function refuseNul({ getRawInput, next }) {
  const nulAt = pathOfNul(await getRawInput());
  if (nulAt !== undefined) throw new EdgeError("BAD_REQUEST", `${nulAt || "input"}: ${NUL_RULE}`, { field: nulAt || "input" });
  return next();
});

export const publicProcedure = procedure;
export const createCallerFactory = t.createCallerFactory;

/** The signed-in user of a request: its access token verified and its session still active. */
export async function authenticate(ctx: Context): Promise<{ id: string; sessionId: string }> {
  let claims;
  try {
    claims = await ctx.verifier.verify(ctx.accessToken);
  } catch (error) {
    if (error instanceof TokenRejectedError) throw new EdgeError("UNAUTHORIZED", error.message);
    throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "cannot verify tokens right now", cause: error });
  }
  // A signed token outlives a logout: its session must still be active (cached for about a second).
  const ended = await ctx.sessions.isEnded(claims.sessionId).catch((error: unknown) => {
    throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "cannot verify tokens right now", cause: error });
  });
  if (ended) throw new EdgeError("UNAUTHORIZED", "the session has ended; sign in again");
  return { id: claims.userId, sessionId: claims.sessionId };
}

/**
 * A procedure for signed-in users: verifies the access token, narrows ctx.user, and draws
 * on the user's budget for the procedure's class. Every call counts, so a batch of N calls
 * costs N (tRPC runs this middleware once per call of a batch).
 */
export const authedProcedure = procedure.use(async function requireUser({ ctx, next, meta, type }) {
  const user = await authenticate(ctx);
  const rateClass = meta?.rateClass ?? (type === "query" ? "read" : "write");
  if (rateClass !== "send") {
    const perUser = { read: ctx.limits.readPerUser, search: ctx.limits.searchPerUser, write: ctx.limits.writePerUser }[rateClass];
    await enforceLimit(ctx, `edge:${rateClass}:user:${user.id}`, perUser, 10_000);
  }
  const caller = { ...ctx.caller, userId: user.id, sessionId: user.sessionId };
  return next({ ctx: { ...ctx, caller, user } });
});
