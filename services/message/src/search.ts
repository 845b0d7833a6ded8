// Message search (issue 17; docs/search.md): SearchMessages of the message service. The query is
// parsed by @parley/proto/rules/search; the caller's rooms are asked of the room service on every
// call (ListMyRooms, no cache: a left or kicked room is no longer searched) and intersected with
// room_ids and in:; from: names are resolved by the user service (ResolveLogin). A room the caller
// is not in, an unknown room name and an unknown user all give what a room that does not exist
// gives: no hits, no count, no error, and the same database work.
import { createHash } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { Code, ConnectError, asUser, fail, requireUserId, validate, type CallContext } from "@parley/kit";
import { SearchOrder, type MessageSchema, type SearchHitSchema, type SearchMessagesRequest } from "@parley/proto/message/v1/message_pb";
import type { UserService } from "@parley/proto/user/v1/user_pb";
import {
  SEARCH_COUNTS_CAP,
  SEARCH_MAX_ROOMS,
  SEARCH_PAGE,
  SEARCH_QUERY_RULE,
  SearchSyntaxError,
  TIME_ZONE_REFUSAL,
  isTimeZone,
  parseSearchQuery,
  type SearchQuery,
} from "@parley/proto/rules/search";
import { fields, textSchema } from "@parley/proto/rules/zod";
import { z } from "zod";
import type { MessageDb } from "./db.js";
import type { Message } from "./entities.js";
import { prefixTsquery, substringPattern, type SearchCursor, type SearchPlan, type SearchWord } from "./repositories.js";
import type { RoomClient } from "./room-access.js";

type UserClient = Pick<Client<typeof UserService>, "resolveLogin">;
type HitInit = MessageInitShape<typeof SearchHitSchema>;
type ToMessages = (rows: readonly Message[]) => Promise<MessageInitShape<typeof MessageSchema>[]>;

const searchRequest = z.object({
  query: textSchema(SEARCH_QUERY_RULE),
  limit: z
    .number()
    .int()
    .min(0)
    .max(SEARCH_PAGE.max, `must be 1-${SEARCH_PAGE.max} (0 for ${SEARCH_PAGE.default})`),
  room_ids: z.array(fields.id).max(SEARCH_MAX_ROOMS, `at most ${SEARCH_MAX_ROOMS} rooms`),
  time_zone: z.string().max(64, TIME_ZONE_REFUSAL),
});

/** How much text a snippet shows around the first match, in UTF-16 units. */
export const SNIPPET_LENGTH = 160;
/** How much of it comes before the first match (at most). */
const SNIPPET_LEAD = 50;

export interface SearchDeps {
  db: MessageDb;
  rooms: RoomClient;
  users: UserClient;
}

export class MessageSearch {
  constructor(
    private readonly deps: SearchDeps,
    /** Messages as the wire has them, with their reactions. */
    private readonly toMessages: ToMessages,
  ) {}

  async search(request: SearchMessagesRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const input = validate(searchRequest, {
      query: request.query,
      limit: request.limit,
      room_ids: request.roomIds,
      time_zone: request.timeZone,
    });
    const timeZone = input.time_zone || "UTC";
    if (!isTimeZone(timeZone)) throw fail.invalidArgument("time_zone", TIME_ZONE_REFUSAL);
    const order = orderOf(request.order);
    let query: SearchQuery;
    try {
      query = parseSearchQuery(input.query);
    } catch (error) {
      if (error instanceof SearchSyntaxError) throw fail.invalidArgument("query", error.message);
      throw error;
    }
    const limit = input.limit || SEARCH_PAGE.default;
    const fingerprint = fingerprintOf(input.query, order, timeZone, input.room_ids);
    const after = request.pageToken ? decodeToken(request.pageToken, order, fingerprint) : null;

    const roomIds = await this.roomsToSearch(caller, input.room_ids, query.in);
    const senderIds = query.from.length > 0 ? await this.senders(caller, query.from) : null;
    const empty = { hits: [], nextPageToken: "", roomCounts: [], countsCapped: false };
    if (roomIds.length === 0 || (senderIds && senderIds.length === 0)) return empty;

    const plan = planOf(query, roomIds, senderIds, timeZone);
    const { search } = this.deps.db.fork();
    let page;
    try {
      page = await search.page(plan, order, after, limit + 1, SEARCH_COUNTS_CAP);
    } catch (error) {
      if (isUnknownTimeZone(error)) throw fail.invalidArgument("time_zone", TIME_ZONE_REFUSAL);
      throw error;
    }
    const anchorUs = page.anchorUs ?? after?.anchorUs ?? null;
    const rows = page.rows.slice(0, limit);
    const stems = rows.length > 0 ? await search.stems(query.words) : [];
    const messages = await this.toMessages(rows.map((r) => r.message));
    const substrings = [...query.words, ...query.phrases];
    const highlightStems = [...new Set(stems.flat())];
    const hits: HitInit[] = rows.map((row, i) => {
      const snippet = snippetOf(row.message.body, substrings, highlightStems);
      return { message: messages[i], snippet: snippet.parts, snippetStartsInside: snippet.startsInside, snippetEndsInside: snippet.endsInside };
    });
    const last = rows.at(-1);
    return {
      hits,
      nextPageToken:
        page.rows.length > limit && last && anchorUs !== null
          ? encodeToken({ anchorUs, id: last.message.id, ...(order === "relevance" ? { score: last.score } : { createdUs: last.createdUs }) }, order, fingerprint)
          : "",
      roomCounts: Object.entries(page.roomCounts)
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .map(([roomId, count]) => ({ roomId, count })),
      countsCapped: page.capped,
    };
  }

  /** The caller's rooms now, within room_ids (when given) and named by in: (when given). */
  private async roomsToSearch(caller: string, requested: readonly string[], names: readonly string[]): Promise<string[]> {
    const { rooms } = await this.deps.rooms.listMyRooms({}, asUser(caller));
    const wanted = requested.length > 0 ? new Set(requested) : null;
    const named = names.length > 0 ? new Set(names.map(roomNameKey)) : null;
    const ids = new Set<string>();
    for (const summary of rooms) {
      const room = summary.room;
      if (!room || !summary.membership) continue;
      if (wanted && !wanted.has(room.id)) continue;
      if (named && !named.has(roomNameKey(room.name))) continue;
      ids.add(room.id);
    }
    return [...ids].sort();
  }

  /** The ids of the from: usernames that exist (each one lookup, concurrently). */
  private async senders(caller: string, usernames: readonly string[]): Promise<string[]> {
    const ids = await Promise.all(
      usernames.map(async (login) => {
        try {
          return (await this.deps.users.resolveLogin({ login }, asUser(caller))).userId || undefined;
        } catch (error) {
          if (ConnectError.from(error).code === Code.NotFound) return undefined;
          throw error;
        }
      }),
    );
    return [...new Set(ids.filter((id): id is string => id !== undefined))].sort();
  }
}

const roomNameKey = (name: string) => name.normalize("NFC").trim().replace(/\s+/gu, " ").toLowerCase();

function orderOf(order: SearchOrder): "relevance" | "newest" {
  switch (order) {
    case SearchOrder.UNSPECIFIED:
    case SearchOrder.RELEVANCE:
      return "relevance";
    case SearchOrder.NEWEST:
      return "newest";
    default:
      throw fail.invalidArgument("order", "must be SEARCH_ORDER_RELEVANCE or SEARCH_ORDER_NEWEST");
  }
}

const wordOf = (word: string): SearchWord => ({ tsquery: prefixTsquery(word), like: substringPattern(word) });

export function planOf(query: SearchQuery, roomIds: readonly string[], senderIds: readonly string[] | null, timeZone: string): SearchPlan {
  return {
    roomIds,
    senderIds,
    words: query.words.map(wordOf),
    phrases: query.phrases.map(substringPattern),
    excludedWords: query.excludedWords.map(wordOf),
    excludedPhrases: query.excludedPhrases.map(substringPattern),
    hasLink: query.has.includes("link"),
    hasFile: query.has.includes("file"),
    hasImage: query.has.includes("image"),
    since: query.since,
    until: query.until,
    timeZone,
  };
}

function isUnknownTimeZone(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e?.code === "22023" || /time zone .* not recognized/i.test(e?.message ?? "");
}

// --- page tokens: base64url of "v1|order|anchor µs|score or created µs|id|fingerprint" ---

/** Ties a token to its search: the same query, order, time zone and rooms. */
function fingerprintOf(query: string, order: string, timeZone: string, roomIds: readonly string[]): string {
  return createHash("sha256")
    .update(JSON.stringify([query, order, timeZone, [...roomIds].sort()]))
    .digest("base64url")
    .slice(0, 12);
}

function encodeToken(cursor: SearchCursor, order: "relevance" | "newest", fingerprint: string): string {
  const key = order === "relevance" ? String(cursor.score) : String(cursor.createdUs);
  return Buffer.from(["v1", order, cursor.anchorUs.toString(), key, cursor.id, fingerprint].join("|")).toString("base64url");
}

function decodeToken(token: string, order: "relevance" | "newest", fingerprint: string): SearchCursor {
  const bad = () => fail.invalidArgument("page_token", "is not a token from a previous page of this search");
  if (token.length > 512 || !/^[A-Za-z0-9_-]+$/.test(token)) throw bad();
  const [version, tokenOrder, anchor, key, id, print, ...rest] = Buffer.from(token, "base64url").toString().split("|");
  if (version !== "v1" || rest.length > 0 || tokenOrder !== order || print !== fingerprint) throw bad();
  if (!/^\d{1,19}$/.test(anchor ?? "") || !/^[0-9a-f-]{36}$/i.test(id ?? "")) throw bad();
  if (order === "relevance") {
    const score = Number(key);
    if (key === "" || !Number.isFinite(score)) throw bad();
    return { anchorUs: BigInt(anchor!), score, id: id! };
  }
  if (!/^-?\d{1,19}$/.test(key ?? "")) throw bad();
  return { anchorUs: BigInt(anchor!), createdUs: BigInt(key!), id: id! };
}

// --- snippets ---

export interface Snippet {
  parts: { text: string; highlighted: boolean }[];
  startsInside: boolean;
  endsInside: boolean;
}

const escapeRegExp = (value: string) => value.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/**
 * The text around the first match, in parts, matches highlighted: case-insensitive occurrences of
 * the words and phrases, and the words of the text that start with one of the query words' stems
 * (so "deploying" highlights "deployed"). The parts joined are a substring of the body; text only
 * (the web app renders it as text, never as HTML).
 */
export function snippetOf(body: string, substrings: readonly string[], stems: readonly string[]): Snippet {
  const ranges: [number, number][] = [];
  for (const s of substrings) {
    if (s === "") continue;
    for (const m of body.matchAll(new RegExp(escapeRegExp(s), "giu"))) ranges.push([m.index, m.index + m[0].length]);
  }
  for (const stem of stems) {
    if (stem === "") continue;
    for (const m of body.matchAll(new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(stem)}[\\p{L}\\p{N}]*`, "giu"))) {
      ranges.push([m.index, m.index + m[0].length]);
    }
  }
  ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const merged: [number, number][] = [];
  for (const [s, e] of ranges) {
    const top = merged.at(-1);
    if (top && s <= top[1]) top[1] = Math.max(top[1], e);
    else if (e > s) merged.push([s, e]);
  }
  let start = 0;
  let end = body.length;
  if (body.length > SNIPPET_LENGTH) {
    const first = merged[0]?.[0] ?? 0;
    start = Math.max(0, first - SNIPPET_LEAD);
    if (start > 0) {
      // Start at a word: after the first blank between the window's start and the match.
      const blank = body.slice(start, first).search(/\s/u);
      if (blank >= 0) start += blank + 1;
    }
    end = Math.min(body.length, start + SNIPPET_LENGTH);
    if (end < body.length) {
      // End at a word, keeping the first match whole.
      const firstEnd = merged[0]?.[1] ?? 0;
      const cut = body.slice(Math.max(start, firstEnd), end).search(/\s\S*$/u);
      if (cut > 0) end = Math.max(start, firstEnd) + cut;
    }
    // Never split a surrogate pair.
    if (start > 0 && isLowSurrogate(body.charCodeAt(start))) start++;
    if (end < body.length && isLowSurrogate(body.charCodeAt(end))) end--;
  }
  const parts: Snippet["parts"] = [];
  let at = start;
  for (const [s0, e0] of merged) {
    const s = Math.max(s0, start);
    const e = Math.min(e0, end);
    if (e <= s) continue;
    if (s > at) parts.push({ text: body.slice(at, s), highlighted: false });
    parts.push({ text: body.slice(s, e), highlighted: true });
    at = e;
  }
  if (at < end) parts.push({ text: body.slice(at, end), highlighted: false });
  return { parts, startsInside: start > 0, endsInside: end < body.length };
}

const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;
