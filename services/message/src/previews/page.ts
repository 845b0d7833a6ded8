// What a fetched page says of itself: Open Graph, then Twitter card, then (fetched by the caller)
// its oEmbed document, then <title> and <meta name="description">. Parsed with htmlparser2
// (entities decoded); every value comes out as plain text, whitespace collapsed, capped at the
// lengths of LinkPreview (title 1-300, description 0-1000 characters).
import { Parser } from "htmlparser2";

export const TITLE_MAX = 300;
export const DESCRIPTION_MAX = 1000;
export const SITE_NAME_MAX = 300;

export interface PageMetadata {
  title: string;
  description: string;
  siteName: string;
  /** Absolute http(s) URL of the page's image, if it names one. */
  imageUrl?: string;
  /** Absolute URL of its oEmbed (JSON) document, if it names one. */
  oembedUrl?: string;
  /** Whether the title came from Open Graph or a Twitter card (then oEmbed is not needed). */
  hasCardTitle: boolean;
}

/** Reads the page's metadata; `pageUrl` (after redirects) resolves relative URLs. */
export function parsePage(html: string, pageUrl: URL): PageMetadata {
  const meta = new Map<string, string>();
  let title = "";
  let inTitle = false;
  let titleDone = false;
  let inSvg = 0;
  let oembed: string | undefined;
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        if (name === "svg") inSvg++;
        if (name === "meta") {
          const key = (attributes.property ?? attributes.name ?? attributes.itemprop ?? "").trim().toLowerCase();
          const content = attributes.content;
          // The first of each wins, as the Open Graph protocol reads repeated properties.
          if (key && content !== undefined && !meta.has(key)) meta.set(key, content);
        } else if (name === "link") {
          const rel = (attributes.rel ?? "").toLowerCase().split(/\s+/);
          const type = (attributes.type ?? "").toLowerCase().trim();
          if (!oembed && rel.includes("alternate") && type === "application/json+oembed" && attributes.href) oembed = attributes.href;
        } else if (name === "title" && !titleDone && inSvg === 0) {
          inTitle = true;
        }
      },
      ontext(text) {
        if (inTitle) title += text;
      },
      onclosetag(name) {
        if (name === "svg" && inSvg > 0) inSvg--;
        if (name === "title" && inTitle) {
          inTitle = false;
          titleDone = true;
        }
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();

  const first = (...keys: string[]) => {
    for (const key of keys) {
      const value = plainText(meta.get(key) ?? "", Infinity);
      if (value) return value;
    }
    return "";
  };
  const cardTitle = first("og:title", "twitter:title");
  const image = first("og:image:secure_url", "og:image:url", "og:image", "twitter:image", "twitter:image:src");
  return {
    title: cap(cardTitle || plainText(title, Infinity), TITLE_MAX),
    description: cap(first("og:description", "twitter:description", "description"), DESCRIPTION_MAX),
    siteName: cap(first("og:site_name", "application-name"), SITE_NAME_MAX),
    ...optional("imageUrl", absoluteHttpUrl(image, pageUrl)),
    ...optional("oembedUrl", oembed ? absoluteHttpUrl(oembed, pageUrl) : undefined),
    hasCardTitle: cardTitle !== "",
  };
}

export interface OembedMetadata {
  title: string;
  siteName: string;
  imageUrl?: string;
}

/** An oEmbed JSON document's title, provider and thumbnail; null when it is not one. */
export function parseOembed(json: string, documentUrl: URL): OembedMetadata | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  const text = (key: string) => (typeof record[key] === "string" ? plainText(record[key], Infinity) : "");
  return {
    title: cap(text("title"), TITLE_MAX),
    siteName: cap(text("provider_name") || text("author_name"), SITE_NAME_MAX),
    ...optional("imageUrl", absoluteHttpUrl(text("thumbnail_url"), documentUrl)),
  };
}

/**
 * Markup some pages put in a meta content or an oEmbed title ("<b>new</b>"); other text in angle
 * brackets ("a <short> video", written &lt;short&gt;) is the page's words and stays.
 */
const INLINE_TAG = /<\/?(?:a|abbr|b|br|cite|code|div|em|i|mark|p|q|s|small|span|strong|sub|sup|u)(?:\s[^<>]*)?\/?>/gi;

/**
 * Plain text of a value: common inline tags dropped, control and format characters removed,
 * whitespace runs collapsed to one space, trimmed, capped. (The app shows it as text, never HTML.)
 */
export function plainText(value: string, max: number): string {
  const text = value
    .replace(INLINE_TAG, (tag) => (/^<\/?(?:br|p|div)\b/i.test(tag) ? " " : ""))
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/g, " ")
    .replace(/\s+/gu, " ")
    .trim();
  return cap(text, max);
}

/** At most `max` characters (code points, never a broken surrogate pair), with an ellipsis when cut. */
function cap(text: string, max: number): string {
  if (!Number.isFinite(max)) return text;
  const points = Array.from(text);
  if (points.length <= max) return text;
  return `${points.slice(0, max - 1).join("").trimEnd()}…`;
}

function absoluteHttpUrl(value: string, base: URL): string | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value, base);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    url.hash = "";
    return url.href;
  } catch {
    return undefined;
  }
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

/** The page's text from its bytes: the charset of the Content-Type, else of a <meta> near the top, else UTF-8. */
export function decodePage(body: Buffer, contentType: string | undefined): string {
  const declared = charsetOf(contentType ?? "") ?? charsetOf(sniffMetaCharset(body) ?? "");
  try {
    return new TextDecoder(declared ?? "utf-8").decode(body);
  } catch {
    return new TextDecoder("utf-8").decode(body);
  }
}

function charsetOf(value: string): string | undefined {
  const match = /charset\s*=\s*["']?([\w.:-]+)/i.exec(value);
  return match?.[1]?.toLowerCase();
}

function sniffMetaCharset(body: Buffer): string | undefined {
  const head = body.subarray(0, 2048).toString("latin1");
  const match = /<meta[^>]+charset\s*=\s*["']?([\w.:-]+)/i.exec(head);
  return match ? `charset=${match[1]}` : undefined;
}
