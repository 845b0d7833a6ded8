// UserService: profiles, their privacy rules and search.
import { Code, ConnectError, fail, requireUserId, toTimestamp, validate, type CallContext, type ServiceHandlers } from "@parley/kit";
import { UniqueConstraintViolationException } from "@mikro-orm/core";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { BATCHES, characters, FIELDS, normalize, PAGES, problemOf } from "@parley/proto/rules";
import { fields } from "@parley/proto/rules/zod";
import { z } from "zod";
import {
  type UserSchema as UserMessageSchema,
  type UserService,
} from "@parley/proto/user/v1/user_pb";
import type { User } from "./user.entity.js";
import type { UserDb } from "./db.js";
import type { SearchCursor } from "./repository.js";

const { username, email, displayName, signUpDisplayName, avatarUrl, statusText, userQuery, pageToken, id: uuid } = fields;

const createRequest = z.object({ id: uuid, username, email, displayName: signUpDisplayName });
const EDITABLE = { display_name: "displayName", avatar_url: "avatarUrl", status_text: "statusText" } as const;
type EditablePath = keyof typeof EDITABLE;

const { max: SEARCH_MAX_PAGE, default: SEARCH_DEFAULT_PAGE } = PAGES.userSearch;
/** Below this length only prefixes are matched: trigram indexes need three characters. */
const SUBSTRING_MIN_LENGTH = 3;

type UserMessage = MessageInitShape<typeof UserMessageSchema>;

export class UserServiceImpl implements ServiceHandlers<typeof UserService> {
  constructor(private readonly db: UserDb) {}

  async createUser(request: { id: string; username: string; email: string; displayName: string }) {
    const input = validate(createRequest, request);
    // An empty display name (after trimming) takes the username.
    const name = input.displayName || input.username;
    const { em, users } = this.db.fork();
    const user = users.create({
      id: input.id,
      username: input.username,
      email: input.email,
      displayName: name,
      avatarUrl: "",
      statusText: "",
    });
    try {
      await em.flush();
    } catch (error) {
      throw uniqueViolation(error) ?? error;
    }
    return { user: toMessage(user, user.id) };
  }

  async deleteUser(request: { id: string }) {
    const { id } = validate(z.object({ id: uuid }), request);
    await this.db.fork().users.nativeDelete({ id });
    return {};
  }

  async getUser(request: { id: string }, ctx: CallContext) {
    const { id } = validate(z.object({ id: uuid }), request);
    const user = await this.db.fork().users.findOne({ id });
    if (!user) throw fail.notFound("user not found");
    return { user: toMessage(user, ctx.userId) };
  }

  async batchGetUsers(request: { ids: string[] }, ctx: CallContext) {
    const { ids } = validate(z.object({ ids: z.array(uuid).max(BATCHES.users, `at most ${BATCHES.users} ids`) }), request);
    const unique = [...new Set(ids)];
    if (unique.length === 0) return { users: [] };
    const found = await this.db.fork().users.find({ id: { $in: unique } });
    const byId = new Map(found.map((u) => [u.id, u]));
    return { users: unique.flatMap((id) => (byId.has(id) ? [toMessage(byId.get(id)!, ctx.userId)] : [])) };
  }

  async updateUser(
    request: { userId: string; user?: { displayName: string; avatarUrl: string; statusText: string }; updateMask?: { paths: string[] } },
    ctx: CallContext,
  ) {
    const caller = requireUserId(ctx);
    if (request.userId !== caller) throw fail.permissionDenied("you can only change your own profile");
    const paths = request.updateMask?.paths ?? [];
    if (paths.length === 0) throw fail.invalidArgument("update_mask", "name at least one field to change");
    for (const path of paths) {
      if (!(path in EDITABLE)) throw fail.invalidArgument("update_mask", `${path} is not an editable field (editable: ${Object.keys(EDITABLE).join(", ")})`);
    }
    const values = request.user ?? { displayName: "", avatarUrl: "", statusText: "" };
    const changes: Partial<Record<(typeof EDITABLE)[EditablePath], string>> = {};
    for (const path of paths as EditablePath[]) {
      const key = EDITABLE[path];
      const schema = { displayName, avatarUrl, statusText }[key];
      changes[key] = validate(z.object({ [key]: schema }), { [key]: values[key] })[key] as string;
    }
    const { em, users } = this.db.fork();
    const user = await users.findOne({ id: caller });
    if (!user) throw fail.notFound("user not found");
    users.assign(user, changes);
    await em.flush();
    return { user: toMessage(user, caller) };
  }

  async searchUsers(request: { query: string; pageSize: number; pageToken: string }, ctx: CallContext) {
    const input = validate(
      z.object({
        query: userQuery,
        pageSize: z.number().int().min(0).max(SEARCH_MAX_PAGE, `at most ${SEARCH_MAX_PAGE}`),
        pageToken,
      }),
      request,
    );
    const limit = input.pageSize || SEARCH_DEFAULT_PAGE;
    const after = decodeSearchToken(input.pageToken);
    const needle = escapeLike(input.query.toLowerCase());
    const prefix = `${needle}%`;
    const pattern = characters(input.query) >= SUBSTRING_MIN_LENGTH ? `%${needle}%` : prefix;
    const rows = await this.db.fork().users.search(prefix, pattern, after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextPageToken = rows.length > limit && last ? encodeSearchToken(last.cursor) : "";
    const users = page.map(({ user }) => toMessage(user, ctx.userId));
    return { users, nextPageToken };
  }

  async resolveLogin(request: { login: string }) {
    if (problemOf(FIELDS.login, request.login) !== undefined) throw fail.notFound("no such account");
    const login = normalize(FIELDS.login, request.login).toLowerCase();
    const column = login.includes("@") ? "email" : "username";
    const userId = await this.db.fork().users.idByLogin(column, login);
    if (!userId) throw fail.notFound("no such account");
    return { userId };
  }
}

/** The profile as others see it; the email only for its owner. */
export function toMessage(user: User, viewerId: string | undefined): UserMessage {
  return {
    id: user.id,
    username: user.username,
    displayName: user.displayName,
    email: viewerId === user.id ? user.email : undefined,
    avatarUrl: user.avatarUrl,
    statusText: user.statusText,
    createTime: toTimestamp(user.createdAt),
    updateTime: toTimestamp(user.updatedAt),
  };
}

function uniqueViolation(error: unknown): ConnectError | undefined {
  if (!(error instanceof UniqueConstraintViolationException)) return undefined;
  if (error.message.includes("users_username_lower_unique")) return fail.alreadyExists("username", "username is taken");
  if (error.message.includes("users_email_lower_unique")) return fail.alreadyExists("email", "email is already registered");
  return new ConnectError("user already exists", Code.AlreadyExists);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

const START: SearchCursor = { rank: -1, name: "", id: "00000000-0000-0000-0000-000000000000" };

function encodeSearchToken(cursor: SearchCursor): string {
  return Buffer.from(JSON.stringify([cursor.rank, cursor.name, cursor.id])).toString("base64url");
}

function decodeSearchToken(token: string): SearchCursor {
  if (token === "") return START;
  try {
    const [rank, name, id] = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as unknown[];
    if ((rank === 0 || rank === 1) && typeof name === "string" && typeof id === "string" && uuid.safeParse(id).success) {
      return { rank, name, id };
    }
  } catch {
    // fall through
  }
  throw fail.invalidArgument("page_token", "not a token from a previous response");
}
