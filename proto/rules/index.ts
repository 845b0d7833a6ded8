// The field rules of Parley's contracts: one table that every layer reads. The services check
// their requests with it (through ./zod.ts), the edge derives its REST and tRPC input schemas
// from it (also ./zod.ts), the socket tier passes frames to the services, which check them, and
// the web app's forms and composer count and limit with it. Browser-safe: no Node API, no zod.
//
// Hand-written beside the contracts rather than protovalidate annotations in the .proto files:
// several rules are not expressible there without CEL (lengths after trimming, "a visible
// character", "empty: the server picks one", the messages people read), the web app would need a
// CEL runtime to read them, and the edge would still need its zod schemas derived from the
// annotations. The table is small and the contracts name the same fields.
//
// Lengths are counted ONE way, by characters(): in Unicode code points (an emoji is one
// character, as people count them, and as PostgreSQL's varchar counts), after trimming where the
// field trims (the trimmed value is what is stored).
import { regexes } from "zod/v4/core";

export const NUL_RULE = "must not contain NUL characters";

/** The length of `value` as every rule counts it: in code points, not UTF-16 units. */
export function characters(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}

/** True when `value` has more than `max` characters, without counting a string that is surely longer. */
function longerThan(value: string, max: number): boolean {
  // A code point takes one or two UTF-16 units.
  if (value.length <= max) return false;
  if (value.length > 2 * max) return true;
  return characters(value) > max;
}

// Whitespace, controls, format characters (zero-width spaces and joiners, bidi marks, BOM),
// variation selectors and the blank "letters" (Hangul fillers, braille blank) show nothing.
const VISIBLE = /[^\s\p{Cc}\p{Cf}\p{Zs}\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180F\u2800\u3164\uFE00-\uFE0F\uFFA0\u{E0100}-\u{E01EF}]/u;

/** True when `value` shows at least one character: not only blanks and invisible characters. */
export function hasVisibleCharacter(value: string): boolean {
  return VISIBLE.test(value);
}

/**
 * The path of the first string inside `value` that holds a NUL (`""` for `value` itself), or
 * undefined. PostgreSQL refuses NUL in text, so every input is checked once, whole, where it
 * enters (each service's gRPC server, the edge's procedures) as well as field by field.
 */
export function pathOfNul(value: unknown, path = ""): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = pathOfNul(item, path ? `${path}.${key}` : key);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A check a value must pass once its length is right. */
export interface Check {
  test: (value: string) => boolean;
  message: string;
}

/** The rule of one text field. */
export interface TextRule {
  /** Leading and trailing whitespace is removed before anything is checked; the trimmed value is kept. */
  readonly trim: boolean;
  /** In characters (code points), after trimming. */
  readonly min: number;
  readonly max: number;
  /** Set when the empty string is accepted as is (whatever min says): what it means. */
  readonly emptyMeans?: string;
  /** The message for an empty value (defaults to `short`), for a too short one, for a too long one. */
  readonly empty?: string;
  readonly short: string;
  readonly long: string;
  /** Further checks, in order, on the (trimmed) value of a valid length. */
  readonly checks?: readonly Check[];
  /** For documentation (OpenAPI): a pattern the whole value matches. */
  readonly pattern?: RegExp;
}

const atMost = (max: number) => `at most ${max} characters`;
const NOT_EMPTY = "must not be empty";

// zod's own patterns (the ones z.email() and z.uuid() use), so that the rule and zod agree.
const EMAIL = regexes.email;
const UUID = regexes.uuid();

function isHttpUrl(value: string): boolean {
  if (!/^https?:\/\//i.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

export const ID_RULE = "must be a UUID";
export const BODY_MAX_CHARACTERS = 4000;
export const BODY_RULE = `must be 1-${BODY_MAX_CHARACTERS} characters after trimming`;
export const CLIENT_MSG_ID_MAX = 64;
export const CLIENT_MSG_ID_RULE = `at most ${CLIENT_MSG_ID_MAX} letters, digits, '_', '-', ':' or '.'`;
export const USERNAME_RULE = "3-32 letters, digits, '_', '.' or '-'";
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;

const idRule = (emptyMeans?: string): TextRule => {
  const message = emptyMeans ? `${ID_RULE} or empty` : ID_RULE;
  return { trim: false, min: 36, max: 36, emptyMeans, short: message, long: message, checks: [{ test: (v) => UUID.test(v), message }], pattern: UUID };
};

const USERNAME = /^[A-Za-z0-9_.-]+$/;
const CLIENT_MSG_ID = /^[A-Za-z0-9_\-:.]*$/;

/** Every text field of the public API and the services, by name. */
export const FIELDS = {
  /** Any id of a user, room, message or session. */
  id: idRule(),
  /** An id that may be left empty (a message's reply_to_id). */
  optionalId: idRule("none"),

  // ---- users and accounts ----
  username: { trim: false, min: 3, max: 32, short: USERNAME_RULE, long: USERNAME_RULE, checks: [{ test: (v) => USERNAME.test(v), message: USERNAME_RULE }], pattern: /^[A-Za-z0-9_.-]{3,32}$/ },
  email: { trim: false, min: 1, max: 254, short: "must be a valid email address", long: atMost(254), checks: [{ test: (v) => EMAIL.test(v), message: "must be a valid email address" }] },
  displayName: { trim: true, min: 1, max: 64, short: NOT_EMPTY, long: atMost(64) },
  /** The display name given at sign-up: empty takes the username. */
  signUpDisplayName: { trim: true, min: 1, max: 64, emptyMeans: "the username", short: NOT_EMPTY, long: atMost(64) },
  avatarUrl: { trim: false, min: 1, max: 2048, emptyMeans: "no avatar", short: "must be an http(s) URL", long: atMost(2048), checks: [{ test: isHttpUrl, message: "must be an http(s) URL" }] },
  statusText: { trim: true, min: 0, max: 140, short: NOT_EMPTY, long: atMost(140) },
  /** A new password (sign-up). */
  password: {
    trim: false,
    min: PASSWORD_MIN,
    max: PASSWORD_MAX,
    empty: NOT_EMPTY,
    short: `at least ${PASSWORD_MIN} characters`,
    long: atMost(PASSWORD_MAX),
    checks: [{ test: (v) => v.trim() !== "", message: "must not be only spaces" }],
  },
  /** A password given to sign in: only its size is checked (no account has a longer one). */
  loginPassword: { trim: false, min: 1, max: PASSWORD_MAX, short: NOT_EMPTY, long: atMost(PASSWORD_MAX) },
  /** An email or a username, to sign in with. */
  login: { trim: true, min: 1, max: 254, short: NOT_EMPTY, long: atMost(254) },
  refreshToken: { trim: false, min: 1, max: 256, short: NOT_EMPTY, long: "is not a refresh token" },
  /** What people search for by username or display name. */
  userQuery: { trim: true, min: 1, max: 64, short: NOT_EMPTY, long: atMost(64) },

  // ---- rooms ----
  roomName: {
    trim: true,
    min: 1,
    max: 80,
    short: NOT_EMPTY,
    long: atMost(80),
    checks: [{ test: (v) => !/\p{Cc}/u.test(v), message: "must be one line without control characters" }],
  },
  roomTopic: { trim: true, min: 0, max: 500, short: NOT_EMPTY, long: atMost(500) },
  /** A room's description: several lines of text (light markdown, rendered as text). */
  roomDescription: { trim: true, min: 0, max: 1000, short: NOT_EMPTY, long: atMost(1000) },
  /** What people search public rooms' names for (empty: every public room). */
  roomQuery: { trim: true, min: 0, max: 80, short: NOT_EMPTY, long: atMost(80) },

  // ---- messages ----
  body: {
    trim: true,
    min: 1,
    max: BODY_MAX_CHARACTERS,
    short: BODY_RULE,
    long: BODY_RULE,
    // Zero-width and other invisible characters alone would be a message nobody can see.
    checks: [{ test: hasVisibleCharacter, message: "must contain a visible character" }],
  },
  /** The sender's id of a message, to make retries idempotent (empty: the server picks one). */
  clientMsgId: {
    trim: false,
    min: 0,
    max: CLIENT_MSG_ID_MAX,
    emptyMeans: "the server picks one",
    short: CLIENT_MSG_ID_RULE,
    long: CLIENT_MSG_ID_RULE,
    checks: [{ test: (v) => CLIENT_MSG_ID.test(v), message: CLIENT_MSG_ID_RULE }],
    pattern: /^[A-Za-z0-9_\-:.]{0,64}$/,
  },

  // ---- pages ----
  /** A page token from a previous answer. */
  pageToken: { trim: false, min: 0, max: 512, short: NOT_EMPTY, long: "not a token from a previous response" },
} as const satisfies Record<string, TextRule>;

export type FieldName = keyof typeof FIELDS;

/** The value a rule keeps: trimmed where the field trims. */
export function normalize(rule: TextRule, value: string): string {
  return rule.trim ? value.trim() : value;
}

/** What is wrong with `value` under `rule` (the first problem, as a message), or undefined. */
export function problemOf(rule: TextRule, value: string): string | undefined {
  if (value.includes("\u0000")) return NUL_RULE;
  const kept = normalize(rule, value);
  if (kept === "" && rule.emptyMeans !== undefined) return undefined;
  if (longerThan(kept, rule.max)) return rule.long;
  if (kept === "" && rule.min > 0) return rule.empty ?? rule.short;
  if (rule.min > 1 && characters(kept) < rule.min) return rule.short;
  for (const check of rule.checks ?? []) if (!check.test(kept)) return check.message;
  return undefined;
}

export type Checked = { ok: true; value: string } | { ok: false; message: string };

/** Checks `value` under `rule`: the value to keep, or the message of what is wrong. */
export function check(rule: TextRule, value: string): Checked {
  const message = problemOf(rule, value);
  return message === undefined ? { ok: true, value: normalize(rule, value) } : { ok: false, message };
}

/**
 * The most UTF-16 units a valid value can have: for a browser's maxlength attribute, which counts
 * units (an emoji is two), so that it never cuts a value the rule accepts. The rule itself decides.
 */
export function maxInputLength(rule: TextRule): number {
  return rule.max * 2;
}

/** Characters left before `value` reaches the rule's maximum (negative: over it). */
export function remaining(rule: TextRule, value: string): number {
  return rule.max - characters(normalize(rule, value));
}

/** A page size: `max` at most; 0 (in the services' contracts) or leaving it out (at the edge) means `default`. */
export interface PageRule {
  readonly max: number;
  readonly default: number;
}

export const PAGES = {
  messages: { max: 100, default: 50 },
  publicRooms: { max: 100, default: 50 },
  members: { max: 200, default: 100 },
  userSearch: { max: 100, default: 20 },
  /** ListChanges and ListRoomChanges: a page of a room's stream. */
  changes: { max: 500, default: 100 },
} as const satisfies Record<string, PageRule>;

/** How many items one call may name. */
export const BATCHES = {
  /** BatchGetUsers ids. */
  users: 500,
  /** GetRoomStats rooms. */
  roomStats: 1000,
  /** CheckSessions session ids (a socket node's sweep sends them in pages). */
  sessions: 1000,
} as const;

/** Direct conversations: 2 people (1:1) up to 8 (a group), the caller included. */
export const DIRECT_GROUP = { maxPeople: 8 } as const;

/** Sequence numbers: non-negative, and exact as a JSON number. */
export const SEQ_MAX = Number.MAX_SAFE_INTEGER;
