// Which links of a message body get a preview: http(s) URLs outside code spans and fenced code
// blocks (the markdown renderer's reading, proto/rules/mentions.ts withoutCode), in order, once
// each, normalized (no fragment), the first `max` of them.
import { withoutCode } from "@parley/proto/rules/mentions";

/** An http(s) URL in running text: up to whitespace, quotes or angle brackets. */
const LINK_PATTERN = /(?<![\p{L}\p{N}_])https?:\/\/[^\s<>"'`]+/giu;
/** Punctuation that ends a sentence rather than a URL. */
const TRAILING = /[.,;:!?'"*_~]+$/;

/** The longest URL fetched (longer ones get no preview). */
export const MAX_LINK_LENGTH = 2048;

export function previewLinks(body: string, max: number): string[] {
  const links: string[] = [];
  if (max <= 0) return links;
  for (const match of withoutCode(body).matchAll(LINK_PATTERN)) {
    const url = normalizeLink(trimLink(match[0]));
    if (url && !links.includes(url)) links.push(url);
    if (links.length >= max) break;
  }
  return links;
}

/** The URL as a preview is keyed by: parsed, without its fragment; null when not an http(s) URL. */
export function normalizeLink(text: string): string | null {
  if (text.length > MAX_LINK_LENGTH) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  url.hash = "";
  return url.href;
}

/** Drops trailing punctuation and closing brackets that the URL does not open ("(see https://x.y/a)."). */
function trimLink(raw: string): string {
  let url = raw;
  for (;;) {
    const before = url;
    url = url.replace(TRAILING, "");
    for (const [open, close] of [["(", ")"], ["[", "]"], ["{", "}"]] as const) {
      while (url.endsWith(close) && count(url, close) > count(url, open)) url = url.slice(0, -1);
    }
    if (url === before) return url;
  }
}

const count = (s: string, c: string) => s.split(c).length - 1;
