// The emoji data the app ships (gemoji: GitHub's shortcodes, names and tags; no network at run
// time): :shortcode: lookup for message text, search for the picker, skin tones, recently used.
import { gemoji, nameToEmoji, type Gemoji } from "gemoji";

export type { Gemoji };
export const EMOJI = gemoji;

/** The emoji of a :shortcode: name (without colons), if the data knows it. */
export function emojiOfShortcode(name: string): string | undefined {
  return Object.hasOwn(nameToEmoji, name) ? nameToEmoji[name] : undefined;
}

const SHORTCODE = /:([a-z0-9_+-]{1,62}):/g;

/** Text split into plain runs and known shortcodes (unknown ones stay text). */
export function splitShortcodes(text: string): ({ text: string } | { emoji: string; name: string })[] {
  const out: ({ text: string } | { emoji: string; name: string })[] = [];
  let last = 0;
  for (const match of text.matchAll(SHORTCODE)) {
    const emoji = emojiOfShortcode(match[1]!);
    if (!emoji) continue;
    if (match.index > last) out.push({ text: text.slice(last, match.index) });
    out.push({ emoji, name: match[1]! });
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/** Emoji whose names, tags or description match the query (shortcode names first), all for none. */
export function searchEmoji(query: string, limit = 200): Gemoji[] {
  const q = query.trim().toLowerCase().replace(/^:|:$/g, "");
  if (!q) return gemoji.slice(0, limit);
  const scored: [number, Gemoji][] = [];
  for (const g of gemoji) {
    let score = -1;
    if (g.names.some((n) => n === q)) score = 0;
    else if (g.names.some((n) => n.startsWith(q))) score = 1;
    else if (g.tags.some((t) => t.startsWith(q))) score = 2;
    else if (g.names.some((n) => n.includes(q)) || g.description.includes(q)) score = 3;
    if (score >= 0) scored.push([score, g]);
  }
  return scored.sort((a, b) => a[0] - b[0]).slice(0, limit).map(([, g]) => g);
}

export const SKIN_TONES = [
  { label: "Default", modifier: "" },
  { label: "Light", modifier: "\u{1F3FB}" },
  { label: "Medium-light", modifier: "\u{1F3FC}" },
  { label: "Medium", modifier: "\u{1F3FD}" },
  { label: "Medium-dark", modifier: "\u{1F3FE}" },
  { label: "Dark", modifier: "\u{1F3FF}" },
] as const;

const MODIFIER_BASE = /^\p{Emoji_Modifier_Base}/u;

/** The emoji with a skin tone, where it takes one (the modifier goes after its first character). */
export function withSkinTone(emoji: string, modifier: string): string {
  if (!modifier || !MODIFIER_BASE.test(emoji)) return emoji;
  const first = String.fromCodePoint(emoji.codePointAt(0)!);
  const rest = emoji.slice(first.length).replace(/^\u{FE0F}/u, "");
  return first + modifier + rest;
}

const RECENT_KEY = "parley.emoji.recent";
const TONE_KEY = "parley.emoji.tone";

export function recentEmoji(): string[] {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) ?? "[]");
    return Array.isArray(list) ? list.filter((e): e is string => typeof e === "string").slice(0, 24) : [];
  } catch {
    return [];
  }
}

export function noteRecentEmoji(emoji: string): void {
  try {
    localStorage.setItem(RECENT_KEY, JSON.stringify([emoji, ...recentEmoji().filter((e) => e !== emoji)].slice(0, 24)));
  } catch {
    // storage full or disabled: recents are a nicety
  }
}

export function savedSkinTone(): string {
  try {
    const tone = localStorage.getItem(TONE_KEY) ?? "";
    return SKIN_TONES.some((t) => t.modifier === tone) ? tone : "";
  } catch {
    return "";
  }
}

export function saveSkinTone(modifier: string): void {
  try {
    localStorage.setItem(TONE_KEY, modifier);
  } catch {
    // as above
  }
}

/** The shortcode name of an emoji, for labels. */
const byEmoji = new Map(gemoji.map((g) => [g.emoji, g]));
export function emojiLabel(emoji: string): string {
  const g = byEmoji.get(emoji) ?? byEmoji.get(emoji.replace(/[\u{1F3FB}-\u{1F3FF}]/u, ""));
  return g ? g.description : emoji;
}
