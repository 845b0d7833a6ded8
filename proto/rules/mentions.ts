// @mentions in message text (issue 16), one reading for the server (which stores who a message
// mentions) and the web app (which highlights them): `@username` (case-insensitive, the username
// rule's characters, trailing dots left to the sentence), `@room` and `@here`. Inside code spans and
// fenced code blocks, as the web app's markdown renderer reads them, nothing is a mention, and
// neither is an email address or a word@word.

/** A mention token in plain text (outside code): `@` not preceded by a word character, `@`, `.` or `/`. */
export const MENTION_PATTERN = /(?<![\p{L}\p{N}_.@/-])@([A-Za-z0-9_.-]+)/gu;

export type MentionBroadcastName = "room" | "here";
/** @room and @here are never usernames. */
export const BROADCAST_MENTIONS: readonly MentionBroadcastName[] = ["room", "here"];
/** At most this many distinct @usernames of a message are resolved (the rest are plain text). */
export const MAX_MENTIONED_USERNAMES = 50;

export interface MentionToken {
  /** Index of the `@` in the text given. */
  start: number;
  /** Index just after the token. */
  end: number;
  /** The name after `@`, as typed (trailing dots dropped). */
  name: string;
  /** Set for @room / @here. */
  broadcast?: MentionBroadcastName;
}

/** Every mention token of a text that has no code in it (a text node of the rendered markdown). */
export function mentionTokens(text: string): MentionToken[] {
  const tokens: MentionToken[] = [];
  for (const match of text.matchAll(MENTION_PATTERN)) {
    const name = match[1]!.replace(/\.+$/, "");
    if (name.length < 3 || name.length > 32) continue;
    const lower = name.toLowerCase();
    const broadcast = (BROADCAST_MENTIONS as readonly string[]).includes(lower) ? (lower as MentionBroadcastName) : undefined;
    tokens.push({ start: match.index, end: match.index + 1 + name.length, name, ...(broadcast ? { broadcast } : {}) });
  }
  return tokens;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;

/** The text with fenced code blocks and inline code spans blanked out (the markdown renderer's rules). */
export function withoutCode(body: string): string {
  const lines = body.replace(/\r\n?/g, "\n").split("\n");
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = FENCE.exec(lines[i]!);
    if (fence && !(fence[1]![0] === "`" && fence[2]!.includes("`"))) {
      const marker = fence[1]!;
      i++;
      while (i < lines.length) {
        const closing = lines[i]!.trim();
        if (closing.startsWith(marker[0]!.repeat(marker.length)) && /^(`+|~+)$/.test(closing) && closing[0] === marker[0]) break;
        i++;
      }
      kept.push("");
      continue;
    }
    kept.push(lines[i]!);
  }
  return blankCodeSpans(kept.join("\n"));
}

function blankCodeSpans(s: string): string {
  let out = "";
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === "\\" && i + 1 < s.length) {
      // An escaped character is text; an escaped @ is not a mention.
      out += s[i + 1] === "@" ? "\\ " : s.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (c !== "`") {
      out += c;
      i++;
      continue;
    }
    let n = 0;
    while (s[i + n] === "`") n++;
    const close = findRun(s, i + n, n);
    if (close < 0) {
      out += s.slice(i, i + n);
      i += n;
      continue;
    }
    out += " ".repeat(close + n - i);
    i = close + n;
  }
  return out;
}

function findRun(s: string, from: number, n: number): number {
  let i = from;
  while (i < s.length) {
    if (s[i] !== "`") {
      i++;
      continue;
    }
    let run = 0;
    while (s[i + run] === "`") run++;
    if (run === n) return i;
    i += run;
  }
  return -1;
}

export interface ParsedMentions {
  /** Distinct usernames, lowercased, in order of first mention (at most MAX_MENTIONED_USERNAMES). */
  usernames: string[];
  /** The first @room / @here of the text. */
  broadcast?: MentionBroadcastName;
}

/** What a message body mentions, outside code. */
export function parseMentions(body: string): ParsedMentions {
  const usernames: string[] = [];
  let broadcast: MentionBroadcastName | undefined;
  for (const token of mentionTokens(withoutCode(body))) {
    if (token.broadcast) {
      broadcast ??= token.broadcast;
      continue;
    }
    const lower = token.name.toLowerCase();
    if (!usernames.includes(lower) && usernames.length < MAX_MENTIONED_USERNAMES) usernames.push(lower);
  }
  return broadcast ? { usernames, broadcast } : { usernames };
}
