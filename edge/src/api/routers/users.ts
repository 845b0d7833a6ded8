import { z } from "zod";
import { PAGES } from "@parley/proto/rules";
import { fields, pageLimit } from "@parley/proto/rules/zod";
import { call } from "../call.js";
import { EdgeError } from "../errors.js";
import { shapeUser } from "../shapes.js";
import { authedProcedure, router } from "../trpc.js";

const EDITABLE = { displayName: "display_name", avatarUrl: "avatar_url", statusText: "status_text" } as const;

export const usersRouter = router({
  me: authedProcedure
    .meta({ rest: { method: "GET", path: "/users/me", summary: "Your own profile, with your email" } })
    .query(async ({ ctx }) => {
      const { user } = await call(ctx.caller, (o) => ctx.services.users.getUser({ id: ctx.user.id }, o));
      return shapeUser(user);
    }),

  updateMe: authedProcedure
    .meta({ rest: { method: "PUT", path: "/users/me", summary: "Change your display name, avatar URL or status text" } })
    .input(
      z.strictObject({
        displayName: fields.displayName.optional(),
        avatarUrl: fields.avatarUrl.optional(),
        statusText: fields.statusText.optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const keys = (Object.keys(EDITABLE) as (keyof typeof EDITABLE)[]).filter((k) => input[k] !== undefined);
      if (keys.length === 0) throw new EdgeError("BAD_REQUEST", "name at least one of displayName, avatarUrl, statusText");
      const { user } = await call(ctx.caller, (o) =>
        ctx.services.users.updateUser(
          { userId: ctx.user.id, user: input, updateMask: { paths: keys.map((k) => EDITABLE[k]) } },
          o,
        ),
      );
      return shapeUser(user);
    }),

  search: authedProcedure
    .meta({ rest: { method: "GET", path: "/users/search", summary: "Find people by username or display name" }, rateClass: "search" })
    .input(
      z.strictObject({
        q: fields.userQuery,
        limit: pageLimit(PAGES.userSearch).optional(),
        cursor: fields.pageToken.optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const page = await call(ctx.caller, (o) =>
        ctx.services.users.searchUsers({ query: input.q, pageSize: input.limit ?? PAGES.userSearch.default, pageToken: input.cursor ?? "" }, o),
      );
      return { users: page.users.map(shapeUser), nextCursor: page.nextPageToken || null };
    }),

  get: authedProcedure
    .meta({ rest: { method: "GET", path: "/users/:id", summary: "Someone's public profile" } })
    .input(z.strictObject({ id: fields.id }))
    .query(async ({ ctx, input }) => {
      const { user } = await call(ctx.caller, (o) => ctx.services.users.getUser({ id: input.id }, o));
      return shapeUser(user);
    }),
});
