// The markdown subset of messages: **bold**, *italic* / _italic_, ~~strike~~,
// `inline code`, fenced code blocks, [links](https://…), bare http(s) links,
// "- " and "1. " lists, "> " quotes, line breaks. It parses to a small tree and
// builds DOM nodes from it with createElement and text nodes only: no HTML is
// ever parsed, so nothing a message says can become a tag, an attribute or an
// event handler. Links keep only http, https and mailto URLs.

import { mentionTokens } from "@parley/proto/rules/mentions";
import { splitShortcodes } from "./emoji";

/**
 * Which @mentions of a message to show as chips (issue 16): the server decides whom a message
 * mentions; the renderer is told their usernames (lowercase), whether it has @room / @here, and
 * the reader's username, whose mentions stand out more.
 */
export interface MentionHighlights {
  names: ReadonlySet<string>;
  broadcast: boolean;
  me?: string;
}
export type Inline =
  | { type: "text"; text: string }
  | { type: "code"; text: string }
  | { type: "br" }
  | { type: "strong" | "em" | "del"; children: Inline[] }
  | { type: "link"; href: string; children: Inline[] };

export type Block =
  | { type: "paragraph"; children: Inline[] }
  | { type: "code"; text: string }
  | { type: "list"; ordered: boolean; start: number; items: Inline[][] }
  | { type: "quote"; children: Block[] };

/** Nesting deeper than this is shown as plain text (hostile input cannot blow the stack). */
const MAX_DEPTH = 6;
/** Longer input is shown as plain text: messages are at most 4000 characters. */
const MAX_LENGTH = 20_000;
const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const ESCAPABLE = /[!-/:-@[-`{-~]/;
const WHITESPACE = /\s/;
const WORD = /[\p{L}\p{N}]/u;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** The URL a link may point to, normalised, or null when it is not http(s) or mailto (or not a URL at all). */
export function safeHref(raw: string): string | null {
  const candidate = raw.trim();
  if (!candidate || candidate.length > 2048 || CONTROL.test(candidate)) return null;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return null;
  }
  if (!SAFE_PROTOCOLS.has(url.protocol)) return null;
  if (url.protocol !== "mailto:" && !url.hostname) return null;
  // What the browser will see must be what was checked.
  const href = url.href;
  try {
    if (!SAFE_PROTOCOLS.has(new URL(href).protocol)) return null;
  } catch {
    return null;
  }
  return href;
}

// ---------- blocks ----------

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const BULLET = /^ {0,3}[-*+][ \t]+(.*)$/;
const ORDERED = /^ {0,3}(\d{1,9})[.)][ \t]+(.*)$/;
const QUOTE = /^ {0,3}>[ \t]?(.*)$/;

export function parseMarkdown(source: string, depth = 0): Block[] {
  const text = source.replace(/\r\n?/g, "\n");
  if (text.length > MAX_LENGTH) return [{ type: "paragraph", children: [{ type: "text", text }] }];
  const lines = text.split("\n");
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === "") {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence && !(fence[1]![0] === "`" && fence[2]!.includes("`"))) {
      const marker = fence[1]!;
      const body: string[] = [];
      i++;
      while (i < lines.length) {
        const closing = lines[i]!.trim();
        if (closing.startsWith(marker[0]!.repeat(marker.length)) && /^(`+|~+)$/.test(closing) && closing[0] === marker[0]) break;
        body.push(lines[i]!);
        i++;
      }
      i++; // the closing fence (or the end)
      blocks.push({ type: "code", text: body.join("\n") });
      continue;
    }
    if (depth < MAX_DEPTH && QUOTE.test(line)) {
      const quoted: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i]!)) quoted.push(QUOTE.exec(lines[i++]!)![1]!);
      blocks.push({ type: "quote", children: parseMarkdown(quoted.join("\n"), depth + 1) });
      continue;
    }
    const bullet = BULLET.exec(line);
    const ordered = bullet ? null : ORDERED.exec(line);
    if (bullet || ordered) {
      const isOrdered = ordered !== null;
      const pattern = isOrdered ? ORDERED : BULLET;
      const items: string[][] = [];
      const start = isOrdered ? Number(ordered[1]) : 1;
      while (i < lines.length) {
        const current = lines[i]!;
        const item = pattern.exec(current);
        if (item) {
          items.push([isOrdered ? item[2]! : item[1]!]);
          i++;
          continue;
        }
        // An indented line continues the item above it.
        if (/^[ \t]{2,}\S/.test(current) && !FENCE.test(current)) {
          items[items.length - 1]!.push(current.trim());
          i++;
          continue;
        }
        break;
      }
      blocks.push({
        type: "list",
        ordered: isOrdered,
        start,
        items: items.map((item) => parseInline(item.join("\n"), depth)),
      });
      continue;
    }
    const paragraph: string[] = [];
    while (i < lines.length) {
      const current = lines[i]!;
      // The first line always belongs to the paragraph (it may be a quote too deep to nest).
      const starts = FENCE.test(current) || BULLET.test(current) || ORDERED.test(current) || QUOTE.test(current);
      if (current.trim() === "" || (paragraph.length > 0 && starts)) break;
      paragraph.push(current);
      i++;
    }
    blocks.push({ type: "paragraph", children: parseInline(paragraph.join("\n"), depth) });
  }
  return blocks;
}

// ---------- inline ----------

function runLength(s: string, at: number, char: string): number {
  let n = 0;
  while (s[at + n] === char) n++;
  return n;
}

/** Where a run of exactly `n` backticks starts at or after `from`, or -1. */
function findBacktickRun(s: string, from: number, n: number): number {
  let i = from;
  while (i < s.length) {
    if (s[i] === "`") {
      const run = runLength(s, i, "`");
      if (run === n) return i;
      i += run;
    } else i++;
  }
  return -1;
}

interface Delimited {
  type: "strong" | "em" | "del";
  inner: string;
  end: number;
}

function matchDelimited(s: string, at: number): Delimited | null {
  const char = s[at]!;
  const run = runLength(s, at, char);
  const candidates: { delimiter: string; type: Delimited["type"] }[] =
    char === "~"
      ? run >= 2
        ? [{ delimiter: "~~", type: "del" }]
        : []
      : run >= 2
        ? [
            { delimiter: char + char, type: "strong" },
            { delimiter: char, type: "em" },
          ]
        : [{ delimiter: char, type: "em" }];
  for (const { delimiter, type } of candidates) {
    const open = at + delimiter.length;
    const first = s[open];
    // An opener is followed by something that is not a space.
    if (first === undefined || WHITESPACE.test(first)) continue;
    // Underscores inside words (snake_case) are not emphasis.
    if (char === "_" && at > 0 && WORD.test(s[at - 1]!)) continue;
    for (let j = open + 1; j <= s.length - delimiter.length; j++) {
      if (s[j] === "`") {
        // Code spans bind tighter: skip over them.
        const n = runLength(s, j, "`");
        const close = findBacktickRun(s, j + n, n);
        if (close >= 0) j = close + n - 1;
        else j += n - 1;
        continue;
      }
      if (s[j] === "\\") {
        j++;
        continue;
      }
      if (!s.startsWith(delimiter, j)) continue;
      // The closer is the end of a run, right after something that is not a space.
      if (s[j + delimiter.length] === char) continue;
      if (WHITESPACE.test(s[j - 1]!)) continue;
      if (char === "_" && j + 1 < s.length && WORD.test(s[j + 1]!)) continue;
      return { type, inner: s.slice(open, j), end: j + delimiter.length };
    }
  }
  return null;
}

interface LinkMatch {
  label: string;
  url: string;
  end: number;
}

function matchLink(s: string, at: number): LinkMatch | null {
  let depth = 0;
  let j = at;
  for (; j < s.length; j++) {
    const c = s[j];
    if (c === "\\") {
      j++;
      continue;
    }
    if (c === "[") depth++;
    else if (c === "]" && --depth === 0) break;
  }
  if (j >= s.length || s[j + 1] !== "(") return null;
  const label = s.slice(at + 1, j);
  let k = j + 2;
  while (s[k] === " ") k++;
  const urlStart = k;
  let parens = 0;
  for (; k < s.length; k++) {
    const c = s[k]!;
    if (WHITESPACE.test(c)) break;
    if (c === "(") parens++;
    else if (c === ")") {
      if (parens === 0) break;
      parens--;
    }
  }
  const url = s.slice(urlStart, k);
  while (s[k] === " ") k++;
  if (s[k] !== ")" || url === "") return null;
  return { label, url, end: k + 1 };
}

const BARE_URL = /https?:\/\/[^\s<>"]+/iy;

function matchBareUrl(s: string, at: number): { url: string; end: number } | null {
  if (at > 0 && WORD.test(s[at - 1]!)) return null;
  BARE_URL.lastIndex = at;
  const found = BARE_URL.exec(s);
  if (!found) return null;
  let url = found[0];
  // Trailing punctuation belongs to the sentence, and a ")" only when unbalanced.
  for (;;) {
    const last = url[url.length - 1]!;
    if (/[.,;:!?'*_~]/.test(last)) url = url.slice(0, -1);
    else if (last === ")" && (url.match(/\(/g)?.length ?? 0) < (url.match(/\)/g)?.length ?? 0)) url = url.slice(0, -1);
    else break;
  }
  return { url, end: at + url.length };
}

export function parseInline(s: string, depth = 0, inLink = false): Inline[] {
  const out: Inline[] = [];
  let text = "";
  const flush = () => {
    if (text) out.push({ type: "text", text });
    text = "";
  };
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === "\\" && i + 1 < s.length && ESCAPABLE.test(s[i + 1]!)) {
      text += s[i + 1];
      i += 2;
      continue;
    }
    if (c === "\n") {
      flush();
      out.push({ type: "br" });
      i++;
      continue;
    }
    if (c === "`") {
      const n = runLength(s, i, "`");
      const close = findBacktickRun(s, i + n, n);
      if (close >= 0) {
        flush();
        let code = s.slice(i + n, close).replace(/\n/g, " ");
        if (code.length > 2 && code.startsWith(" ") && code.endsWith(" ") && code.trim() !== "") code = code.slice(1, -1);
        out.push({ type: "code", text: code });
        i = close + n;
      } else {
        text += s.slice(i, i + n);
        i += n;
      }
      continue;
    }
    if (c === "*" || c === "_" || c === "~") {
      const found = depth < MAX_DEPTH ? matchDelimited(s, i) : null;
      if (found) {
        flush();
        out.push({ type: found.type, children: parseInline(found.inner, depth + 1, inLink) });
        i = found.end;
      } else {
        const n = runLength(s, i, c);
        text += s.slice(i, i + n);
        i += n;
      }
      continue;
    }
    if (c === "[" && !inLink && depth < MAX_DEPTH) {
      const found = matchLink(s, i);
      if (found) {
        const href = safeHref(found.url);
        if (href) {
          flush();
          out.push({ type: "link", href, children: parseInline(found.label, depth + 1, true) });
        } else {
          // Not a URL we open: shown exactly as typed.
          text += s.slice(i, found.end);
        }
        i = found.end;
        continue;
      }
    }
    if ((c === "h" || c === "H") && !inLink) {
      const found = matchBareUrl(s, i);
      if (found) {
        const href = safeHref(found.url);
        if (href) {
          flush();
          out.push({ type: "link", href, children: [{ type: "text", text: found.url }] });
          i = found.end;
          continue;
        }
      }
    }
    text += c;
    i++;
  }
  flush();
  return out;
}

// ---------- DOM ----------

/** Text with its @mentions as chips (textContent only: never markup). */
function appendText(parent: Node, text: string, doc: Document, mentions: MentionHighlights | undefined): void {
  let at = 0;
  for (const token of mentions ? mentionTokens(text) : []) {
    const lower = token.name.toLowerCase();
    const real = token.broadcast ? mentions!.broadcast : mentions!.names.has(lower);
    if (!real) continue;
    if (token.start > at) parent.appendChild(doc.createTextNode(text.slice(at, token.start)));
    const chip = doc.createElement("span");
    chip.className = token.broadcast || lower === mentions!.me ? "mention mention-me" : "mention";
    chip.setAttribute("data-mention", lower);
    chip.textContent = text.slice(token.start, token.end);
    parent.appendChild(chip);
    at = token.end;
  }
  if (at < text.length) parent.appendChild(doc.createTextNode(text.slice(at)));
}

function appendInline(parent: Node, nodes: readonly Inline[], doc: Document, mentions?: MentionHighlights): void {
  for (const node of nodes) {
    switch (node.type) {
      case "text":
        // :shortcode: of the shipped emoji data as the emoji (text nodes only: never markup).
        for (const part of splitShortcodes(node.text)) {
          if ("text" in part) {
            appendText(parent, part.text, doc, mentions);
          } else {
            const span = doc.createElement("span");
            span.className = "emoji";
            span.setAttribute("role", "img");
            span.setAttribute("aria-label", part.name.replace(/_/g, " "));
            span.setAttribute("title", `:${part.name}:`);
            span.textContent = part.emoji;
            parent.appendChild(span);
          }
        }
        break;
      case "br":
        parent.appendChild(doc.createElement("br"));
        break;
      case "code": {
        const code = doc.createElement("code");
        code.textContent = node.text;
        parent.appendChild(code);
        break;
      }
      case "strong":
      case "em":
      case "del": {
        const element = doc.createElement(node.type);
        appendInline(element, node.children, doc, mentions);
        parent.appendChild(element);
        break;
      }
      case "link": {
        const href = safeHref(node.href);
        if (!href) {
          appendInline(parent, node.children, doc);
          break;
        }
        const a = doc.createElement("a");
        a.setAttribute("href", href);
        a.setAttribute("rel", "noopener noreferrer nofollow");
        a.setAttribute("target", "_blank");
        appendInline(a, node.children, doc);
        parent.appendChild(a);
        break;
      }
    }
  }
}

function appendBlocks(parent: Node, blocks: readonly Block[], doc: Document, mentions?: MentionHighlights): void {
  for (const block of blocks) {
    switch (block.type) {
      case "paragraph": {
        const p = doc.createElement("p");
        appendInline(p, block.children, doc, mentions);
        parent.appendChild(p);
        break;
      }
      case "code": {
        const pre = doc.createElement("pre");
        const code = doc.createElement("code");
        code.textContent = block.text;
        pre.appendChild(code);
        parent.appendChild(pre);
        break;
      }
      case "list": {
        const list = doc.createElement(block.ordered ? "ol" : "ul");
        if (block.ordered && block.start !== 1 && Number.isSafeInteger(block.start)) list.setAttribute("start", String(block.start));
        for (const item of block.items) {
          const li = doc.createElement("li");
          appendInline(li, item, doc, mentions);
          list.appendChild(li);
        }
        parent.appendChild(list);
        break;
      }
      case "quote": {
        const quote = doc.createElement("blockquote");
        appendBlocks(quote, block.children, doc, mentions);
        parent.appendChild(quote);
        break;
      }
    }
  }
}

/** The DOM nodes of a message's markdown, built without parsing any HTML. */
export function renderMarkdown(source: string, doc: Document = document, mentions?: MentionHighlights): Node[] {
  const fragment = doc.createDocumentFragment();
  appendBlocks(fragment, parseMarkdown(source), doc, mentions);
  return Array.from(fragment.childNodes);
}

/** The plain text of a message (for previews and notifications): markdown markers removed. */
export function plainText(source: string): string {
  const parts: string[] = [];
  const walk = (nodes: readonly Inline[]) => {
    for (const node of nodes) {
      if (node.type === "text" || node.type === "code") parts.push(node.text);
      else if (node.type === "br") parts.push(" ");
      else walk(node.children);
    }
  };
  const blocks = (list: readonly Block[]) => {
    for (const block of list) {
      if (block.type === "paragraph") walk(block.children);
      else if (block.type === "code") parts.push(block.text);
      else if (block.type === "list") for (const item of block.items) (walk(item), parts.push(" "));
      else blocks(block.children);
      parts.push(" ");
    }
  };
  blocks(parseMarkdown(source));
  return parts.join("").replace(/\s+/g, " ").trim();
}
