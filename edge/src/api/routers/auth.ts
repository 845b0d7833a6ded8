import { z } from "zod";
import { fields } from "@parley/proto/rules/zod";
import { call } from "../call.js";
import { enforceLimit } from "../limits.js";
import { shapeAuth, shapeSession } from "../shapes.js";
import { authedProcedure, publicProcedure, router } from "../trpc.js";

const { email, username, password, loginPassword, signUpDisplayName, login, refreshToken, id } = fields;

export const authRouter = router({
  register: publicProcedure
    .meta({ rest: { method: "POST", path: "/auth/register", status: 201, summary: "Create an account and sign in" } })
    .input(z.strictObject({ email, username, password, displayName: signUpDisplayName.optional() }))
    .mutation(async ({ ctx, input }) => {
      await enforceLimit(ctx, `edge:register:address:${ctx.caller.clientAddress}`, ctx.limits.registerPerAddress, 3_600_000);
      const { user, tokens } = await call(ctx.caller, (o) =>
        ctx.services.auth.register({ ...input, displayName: input.displayName ?? "" }, o),
      );
      return shapeAuth(user, tokens);
    }),

  login: publicProcedure
    .meta({ rest: { method: "POST", path: "/auth/login", summary: "Sign in with an email or username and a password" } })
    .input(z.strictObject({ login, password: loginPassword }))
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

  revokeSession: authedProcedure
    .meta({ rest: { method: "DELETE", path: "/auth/sessions/:id", status: 204, summary: "Sign out one of the signed-in user's sessions (another person's is 404)" } })
    .input(z.strictObject({ id }))
    .mutation(async ({ ctx, input }) => {
      await call(ctx.caller, (o) => ctx.services.auth.revokeSession({ sessionId: input.id }, o));
    }),

  logoutOthers: authedProcedure
    .meta({ rest: { method: "POST", path: "/auth/sessions/revoke-others", summary: "Sign out every session of the signed-in user but this one" } })
    .mutation(async ({ ctx }) => {
      const { sessionCount } = await call(ctx.caller, (o) => ctx.services.auth.logoutOthers({}, o));
      return { sessionCount };
    }),
});
