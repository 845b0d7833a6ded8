import { z } from "zod";
import { rules } from "@parley/kit";
import { call } from "../call.js";
import { enforceLimit } from "../limits.js";
import { shapeAuth, shapeSession } from "../shapes.js";
import { authedProcedure, publicProcedure, router } from "../trpc.js";

// Passwords: the auth service applies the full policy; this only stops absurd sizes early.
const password = z.string().min(1, "must not be empty").max(1024, "at most 256 characters");
const refreshToken = z.string().min(1, "must not be empty").max(256, "is not a refresh token");

export const authRouter = router({
  register: publicProcedure
    .meta({ rest: { method: "POST", path: "/auth/register", status: 201, summary: "Create an account and sign in" } })
    .input(z.strictObject({ email: rules.email, username: rules.username, password, displayName: z.string().max(64).optional() }))
    .mutation(async ({ ctx, input }) => {
      await enforceLimit(ctx, `edge:register:address:${ctx.caller.clientAddress}`, ctx.limits.registerPerAddress, 3_600_000);
      const { user, tokens } = await call(ctx.caller, (o) =>
        ctx.services.auth.register({ ...input, displayName: input.displayName ?? "" }, o),
      );
      return shapeAuth(user, tokens);
    }),

  login: publicProcedure
    .meta({ rest: { method: "POST", path: "/auth/login", summary: "Sign in with an email or username and a password" } })
    .input(z.strictObject({ login: z.string().min(1, "must not be empty").max(254, "at most 254 characters"), password }))
    .mutation(async ({ ctx, input }) => {
      await enforceLimit(ctx, `edge:login:address:${ctx.caller.clientAddress}`, ctx.limits.loginPerAddress, 60_000);
      const { user, tokens } = await call(ctx.caller, (o) => ctx.services.auth.login(input, o));
      return shapeAuth(user, tokens);
    }),

  refresh: publicProcedure
    .meta({ rest: { method: "POST", path: "/auth/refresh", summary: "Trade a refresh token for a new pair" } })
    .input(z.strictObject({ refreshToken }))
    .mutation(async ({ ctx, input }) => {
      const { user, tokens } = await call(ctx.caller, (o) => ctx.services.auth.refresh(input, o));
      return shapeAuth(user, tokens);
    }),

  logout: publicProcedure
    .meta({ rest: { method: "POST", path: "/auth/logout", status: 204, summary: "End the session of a refresh token" } })
    .input(z.strictObject({ refreshToken }))
    .mutation(async ({ ctx, input }) => {
      await call(ctx.caller, (o) => ctx.services.auth.logout(input, o));
    }),

  logoutAll: authedProcedure
    .meta({ rest: { method: "POST", path: "/auth/logout-all", summary: "End every session of the signed-in user" } })
    .mutation(async ({ ctx }) => {
      const { sessionCount } = await call(ctx.caller, (o) => ctx.services.auth.logoutAll({}, o));
      return { sessionCount };
    }),

  sessions: authedProcedure
    .meta({ rest: { method: "GET", path: "/auth/sessions", summary: "List the signed-in user's sessions" } })
    .query(async ({ ctx }) => {
      const { sessions } = await call(ctx.caller, (o) => ctx.services.auth.listSessions({}, o));
      return { sessions: sessions.map(shapeSession) };
    }),
});
