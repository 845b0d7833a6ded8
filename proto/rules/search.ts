// Message search's query syntax (issue 17), one reading for the message service (which runs the
// query) and the web app (which helps people write one): docs/search.md documents it.
//
//   deploy kube          words: each must match (a stemmed word, a word starting with it, or a
//                        substring of the text: partial words and CJK)
//   "exact phrase"       a case-insensitive substring of the text
//   -word  -"a phrase"   excluded: messages that would match them are left out
//   from:@ada from:ada   sent by that user (several: any of them)
//   in:#general in:general in:"#my room"   in that room of the caller's (several: any of them)
//   before:2026-12-01 after:2026-11-01 on:2026-11-15   days in the request's time zone
//                        (before: and after: leave the day itself out; on: is that day)
//   has:link             the text has a link (http://, https:// or www.)
//   has:file             the message has files attached (issue 19)
//   has:image            the message has an image attached (shown inline: PNG, JPEG, GIF, WebP, AVIF)
//
// Operator names are case-insensitive. A `name:value` whose name is not an operator (say
// `http://x` or `ratio:2`) is a plain word. Browser-safe: no Node API.
import type { TextRule } from "./index.js";

/** The query field: 1-500 characters after trimming. */
export const SEARCH_QUERY_MAX = 500;
export const SEARCH_QUERY_RULE: TextRule = {
  trim: true,
  min: 1,
  max: SEARCH_QUERY_MAX,
  short: "must not be empty",
  long: `at most ${SEARCH_QUERY_MAX} characters`,
};
/** Hits per page: 1-50, default 20 (0 in the service's request). */
export const SEARCH_PAGE = { max: 50, default: 20 } as const;
/** How many room ids a request may name. */
export const SEARCH_MAX_ROOMS = 100;
/** room_counts count the first (newest) this many matches; counts_capped says there are more. */
export const SEARCH_COUNTS_CAP = 1000;

/** What a time zone that is not an IANA name gets, at the edge and in the service. */
export const TIME_ZONE_REFUSAL = "must be an IANA time zone name (such as Europe/Paris)";

/** An IANA time zone name that Intl knows (PostgreSQL's `at time zone` is asked the same name). */
export function isTimeZone(name: string): boolean {
  if (name.length > 64 || !/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const SEARCH_OPERATORS = ["from", "in", "before", "after", "on", "has"] as const;
export type SearchOperator = (typeof SEARCH_OPERATORS)[number];
export type SearchHas = "link" | "file" | "image";
const SEARCH_HAS: readonly SearchHas[] = ["link", "file", "image"];

/** A parsed query. Words and phrases keep their case as typed (matching ignores it). */
export interface SearchQuery {
  words: string[];
  phrases: string[];
  excludedWords: string[];
  excludedPhrases: string[];
  /** Usernames without "@", lowercased, distinct, in order. */
  from: string[];
  /** Room names without "#", as typed (matched case-insensitively), distinct, in order. */
  in: string[];
  /** First day included (YYYY-MM-DD, in the request's time zone): from after: and on:. */
  since?: string;
  /** First day no longer included: from before: and on:. */
  until?: string;
  has: SearchHas[];
}

/** Bad syntax: `part` is the piece of the query at fault, as typed. */
export class SearchSyntaxError extends Error {
  override name = "SearchSyntaxError";
  constructor(
    readonly part: string,
    readonly reason: string,
  ) {
    super(`${JSON.stringify(part)}: ${reason}`);
  }
}

const USERNAME = /^[A-Za-z0-9_.-]{1,32}$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const ROOM_NAME_MAX = 80;

const isLeap = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const daysIn = (y: number, m: number) => (m === 2 ? (isLeap(y) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31);
const pad = (n: number, width = 2) => String(n).padStart(width, "0");
const dayOf = (y: number, m: number, d: number) => `${pad(y, 4)}-${pad(m)}-${pad(d)}`;
const partsOf = (day: string) => day.split("-").map(Number) as [number, number, number];

/** A YYYY-MM-DD that is a real calendar day (years 0001-9999). */
export function isDay(value: string): boolean {
  const m = DAY.exec(value);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo);
}

/** The day after a valid YYYY-MM-DD (9999-12-31 stays: nothing is after it). */
export function nextDay(day: string): string {
  const [y, m, d] = partsOf(day);
  if (d < daysIn(y, m)) return dayOf(y, m, d + 1);
  if (m < 12) return dayOf(y, m + 1, 1);
  return y < 9999 ? dayOf(y + 1, 1, 1) : day;
}

/** The day before a valid YYYY-MM-DD (0001-01-01 stays). */
export function previousDay(day: string): string {
  const [y, m, d] = partsOf(day);
  if (d > 1) return dayOf(y, m, d - 1);
  if (m > 1) return dayOf(y, m - 1, daysIn(y, m - 1));
  return y > 1 ? dayOf(y - 1, 12, 31) : day;
}

const isSpace = (c: string | undefined) => c !== undefined && /\s/u.test(c);

/** One piece of the query as typed: a quoted string or a run of non-blank characters (a quote inside ends it). */
interface Piece {
  text: string;
  quoted: boolean;
}

/** Reads a quoted string from `at` (at a `"`); SearchSyntaxError when it is not closed. */
function readQuoted(query: string, at: number, partStart: number): { value: string; end: number } {
  const close = query.indexOf('"', at + 1);
  if (close < 0) throw new SearchSyntaxError(query.slice(partStart), "the quote is not closed");
  return { value: query.slice(at + 1, close), end: close + 1 };
}

/** Parses a query; SearchSyntaxError naming the part at fault. */
export function parseSearchQuery(input: string): SearchQuery {
  const query = input.normalize("NFC");
  const parsed: SearchQuery = { words: [], phrases: [], excludedWords: [], excludedPhrases: [], from: [], in: [], has: [] };
  const pushOnce = (list: string[], value: string, key = (v: string) => v) => {
    if (!list.some((v) => key(v) === key(value))) list.push(value);
  };
  let i = 0;
  while (i < query.length) {
    if (isSpace(query[i])) {
      i++;
      continue;
    }
    const start = i;
    const negated = query[i] === "-";
    if (negated) i++;
    if (query[i] === '"') {
      const { value, end } = readQuoted(query, i, start);
      i = end;
      const phrase = value.trim().replace(/\s+/gu, " ");
      if (phrase === "") throw new SearchSyntaxError(query.slice(start, end), "the phrase is empty");
      pushOnce(negated ? parsed.excludedPhrases : parsed.phrases, phrase, (v) => v.toLowerCase());
      continue;
    }
    // A run up to a blank or a quote.
    let j = i;
    while (j < query.length && !isSpace(query[j]) && query[j] !== '"') j++;
    const run = query.slice(i, j);
    const colon = run.indexOf(":");
    const name = colon > 0 ? run.slice(0, colon).toLowerCase() : "";
    if ((SEARCH_OPERATORS as readonly string[]).includes(name)) {
      const operator = name as SearchOperator;
      let value = run.slice(colon + 1);
      let end = j;
      let quoted: Piece | undefined;
      // in:"#my room", in:#"my room", from:"ada": a quoted value right after the colon (or after # / @).
      if (query[j] === '"' && (value === "" || value === "#" || value === "@")) {
        const q = readQuoted(query, j, start);
        quoted = { text: value + q.value, quoted: true };
        value = quoted.text;
        end = q.end;
      } else if (query[j] === '"') {
        throw new SearchSyntaxError(query.slice(start, j + 1), `a quote inside ${operator}:`);
      }
      const part = query.slice(start, end);
      if (negated) throw new SearchSyntaxError(part, `${operator}: cannot be excluded`);
      i = end;
      applyOperator(parsed, operator, value.trim(), part);
      continue;
    }
    i = j;
    if (run === "") {
      // A "-" alone, or followed by a blank.
      throw new SearchSyntaxError(query.slice(start, j), "nothing to exclude after -");
    }
    if (negated) pushOnce(parsed.excludedWords, run, (v) => v.toLowerCase());
    else pushOnce(parsed.words, run, (v) => v.toLowerCase());
  }
  const positive = parsed.words.length + parsed.phrases.length + parsed.from.length + parsed.in.length + parsed.has.length;
  if (positive === 0 && !parsed.since && !parsed.until) {
    throw new SearchSyntaxError(query.trim(), "needs a word, a phrase or a filter (exclusions alone are not a search)");
  }
  return parsed;
}

function applyOperator(parsed: SearchQuery, operator: SearchOperator, value: string, part: string): void {
  switch (operator) {
    case "from": {
      const username = value.startsWith("@") ? value.slice(1) : value;
      if (username === "") throw new SearchSyntaxError(part, "from: needs a username (from:@name)");
      if (!USERNAME.test(username)) throw new SearchSyntaxError(part, "from: needs a username of letters, digits, '_', '.' or '-'");
      const lower = username.toLowerCase();
      if (!parsed.from.includes(lower)) parsed.from.push(lower);
      return;
    }
    case "in": {
      const room = (value.startsWith("#") ? value.slice(1) : value).trim().replace(/\s+/gu, " ");
      if (room === "") throw new SearchSyntaxError(part, 'in: needs a room name (in:#name, or in:"#my room")');
      if ([...room].length > ROOM_NAME_MAX) throw new SearchSyntaxError(part, `in: room names are at most ${ROOM_NAME_MAX} characters`);
      if (!parsed.in.some((r) => r.toLowerCase() === room.toLowerCase())) parsed.in.push(room);
      return;
    }
    case "before":
    case "after":
    case "on": {
      if (!isDay(value)) throw new SearchSyntaxError(part, `${operator}: needs a date as YYYY-MM-DD`);
      const since = operator === "after" ? nextDay(value) : operator === "on" ? value : undefined;
      const until = operator === "before" ? value : operator === "on" ? nextDay(value) : undefined;
      if (since && (!parsed.since || since > parsed.since)) parsed.since = since;
      if (until && (!parsed.until || until < parsed.until)) parsed.until = until;
      // A range with no day in it would match nothing: say so rather than search.
      if (parsed.since && parsed.until && parsed.since >= parsed.until) throw new SearchSyntaxError(part, "the dates leave no day to search");
      return;
    }
    case "has": {
      const what = value.toLowerCase() as SearchHas;
      if (SEARCH_HAS.includes(what)) {
        if (!parsed.has.includes(what)) parsed.has.push(what);
        return;
      }
      throw new SearchSyntaxError(part, "has: takes link, file or image (has:link, has:file, has:image)");
    }
  }
}

/** A query's text that parses back to the same query (for a UI that adds or removes a filter). */
export function formatSearchQuery(query: SearchQuery): string {
  const quote = (value: string) => `"${value}"`;
  const parts: string[] = [
    ...query.words,
    ...query.phrases.map(quote),
    ...query.excludedWords.map((w) => `-${w}`),
    ...query.excludedPhrases.map((p) => `-${quote(p)}`),
    ...query.from.map((u) => `from:@${u}`),
    ...query.in.map((r) => (/[\s"]/u.test(r) ? `in:"#${r}"` : `in:#${r}`)),
    ...(query.since ? [`after:${previousDay(query.since)}`] : []),
    ...(query.until ? [`before:${query.until}`] : []),
    ...query.has.map((h) => `has:${h}`),
  ];
  return parts.join(" ");
}

/**
 * The search terms a text is matched against, for highlighting: the words and phrases (not the
 * exclusions), lowercased.
 */
export function searchTerms(query: SearchQuery): string[] {
  return [...query.words, ...query.phrases].map((t) => t.toLowerCase());
}
