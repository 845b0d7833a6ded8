// The email unsubscribe link (issue 18): GET /api/v1/notifications/unsubscribe?token= shows a page
// with a confirm button and changes nothing (mail scanners and link previews follow links); a POST
// of the same URL turns notification emails off for the person the token was made for. That POST
// is also RFC 8058's one-click unsubscribe: mail providers send it from the List-Unsubscribe header
// with the body `List-Unsubscribe=One-Click` (multipart/form-data or form-urlencoded), without
// cookies, sign-in or a CSRF token. The token is the capability (the notification service signs
// and checks it); unsubscribing twice is fine. POSTs draw on a per-address budget.
import type { IncomingMessage, ServerResponse } from "node:http";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { call } from "./call.js";
import type { Context } from "./context.js";
import { describeError, EdgeError } from "./errors.js";
import { enforceLimit } from "./limits.js";
import { REST_PREFIX, sendError, sendJson } from "./rest.js";
import { csp } from "../static.js";

export const UNSUBSCRIBE_PATH = `${REST_PREFIX}/notifications/unsubscribe`;
/** A form body is a few dozen bytes; anything much larger is not one. */
const MAX_FORM_BYTES = 8 * 1024;
const TOKEN_MAX = 1024;
export const ONE_CLICK = { name: "List-Unsubscribe", value: "One-Click" } as const;

export interface UnsubscribeHandlerOptions {
  createContext: (req: IncomingMessage) => Context;
}

export function createUnsubscribeHandler({ createContext }: UnsubscribeHandlerOptions) {
  return async function handleUnsubscribe(req: IncomingMessage, res: ServerResponse, search: URLSearchParams): Promise<void> {
    res.setHeader("cache-control", "no-store");
    res.setHeader("content-security-policy", csp());
    const json = wantsJson(req);
    try {
      if (req.method === "GET" || req.method === "HEAD") {
        const token = tokenOf(search.getAll("token"));
        return sendHtml(res, 200, confirmPage(token), req.method === "HEAD");
      }
      if (req.method !== "POST") {
        res.setHeader("allow", "GET, HEAD, POST");
        throw new EdgeError("METHOD_NOT_SUPPORTED", `${req.method} is not allowed here`);
      }
      const ctx = createContext(req);
      await enforceLimit(ctx, `edge:unsubscribe:address:${ctx.caller.clientAddress}`, ctx.limits.unsubscribePerAddress, 60_000);
      const form = await readForm(req);
      const oneClick = form?.getAll(ONE_CLICK.name) ?? [];
      if (oneClick.some((value) => value !== ONE_CLICK.value)) {
        throw new EdgeError("BAD_REQUEST", `${ONE_CLICK.name}: must be ${ONE_CLICK.value}`, { field: ONE_CLICK.name });
      }
      const fromBody = (form?.getAll("token") ?? []).filter((v): v is string => typeof v === "string");
      const token = tokenOf(search.has("token") ? search.getAll("token") : fromBody);
      await call(ctx.caller, (o) => ctx.services.notify.unsubscribe({ token }, o));
      if (json) return sendJson(res, 200, { unsubscribed: true });
      return sendHtml(res, 200, donePage());
    } catch (error) {
      const failure = error instanceof TRPCError ? error : new EdgeError("INTERNAL_SERVER_ERROR", "internal error", {}, error);
      if (json) return sendError(res, failure);
      const body = describeError(failure);
      if (body.retryAfterSeconds) res.setHeader("retry-after", String(body.retryAfterSeconds));
      return sendHtml(res, getHTTPStatusCodeFromError(failure), errorPage(body.message), req.method === "HEAD");
    }
  };
}

/** The one token of the link: present once, of a sane length, printable. */
function tokenOf(values: string[]): string {
  if (values.length === 0 || values[0] === "") throw new EdgeError("BAD_REQUEST", "token: is required (open the link from the email as it is)", { field: "token" });
  if (values.length > 1) throw new EdgeError("BAD_REQUEST", "token: give it once", { field: "token" });
  const token = values[0]!;
  if (token.length > TOKEN_MAX || !/^[\x21-\x7e]+$/.test(token)) {
    throw new EdgeError("BAD_REQUEST", "token: not an unsubscribe token (open the link from the email as it is)", { field: "token" });
  }
  return token;
}

/** Asked for JSON rather than a page (an API client): Accept names application/json and not text/html. */
function wantsJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? "";
  return /\bapplication\/json\b/i.test(accept) && !/\btext\/html\b/i.test(accept);
}

/** The POST's form (form-urlencoded or multipart/form-data, RFC 8058), or undefined for an empty body. */
async function readForm(req: IncomingMessage): Promise<FormData | undefined> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_FORM_BYTES) throw new EdgeError("PAYLOAD_TOO_LARGE", `the body is larger than ${MAX_FORM_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new EdgeError("PAYLOAD_TOO_LARGE", `the body is larger than ${MAX_FORM_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const type = req.headers["content-type"] ?? "";
  const mediaType = type.split(";", 1)[0]!.trim().toLowerCase();
  if (mediaType !== "application/x-www-form-urlencoded" && mediaType !== "multipart/form-data") {
    throw new EdgeError("UNSUPPORTED_MEDIA_TYPE", "send the body as application/x-www-form-urlencoded or multipart/form-data (RFC 8058)");
  }
  try {
    return await new Response(Buffer.concat(chunks), { headers: { "content-type": type } }).formData();
  } catch {
    throw new EdgeError("BAD_REQUEST", "the body is not a valid form");
  }
}

// ---- the pages: no script, the app's CSP, every value escaped ----

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;display:flex;justify-content:center;background:#f6f7f9;color:#1d2330}
main{max-width:32rem;margin:4rem 1rem;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin-top:0}button{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:8px;background:#3454d1;color:#fff;cursor:pointer}
button:focus-visible{outline:3px solid #9fb3ff;outline-offset:2px}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main>${body}</main></body></html>`;
}

function confirmPage(token: string): string {
  const action = `${UNSUBSCRIBE_PATH}?${new URLSearchParams({ token })}`;
  return page(
    "Unsubscribe from Parley emails",
    `<h1>Stop notification emails?</h1>
<p>Parley will stop emailing you about mentions and direct messages you missed. Desktop and push notifications stay as they are; you can turn emails back on in the app's notification settings.</p>
<form method="post" action="${escapeHtml(action)}"><input type="hidden" name="${ONE_CLICK.name}" value="${ONE_CLICK.value}"><button type="submit">Unsubscribe</button></form>`,
  );
}

function donePage(): string {
  return page(
    "Unsubscribed",
    `<h1>You are unsubscribed</h1><p>Parley will not email you notifications any more. You can turn them back on in the app's notification settings.</p>`,
  );
}

function errorPage(message: string): string {
  return page("Cannot unsubscribe", `<h1>This link did not work</h1><p>${escapeHtml(message)}</p>`);
}

function sendHtml(res: ServerResponse, status: number, html: string, headOnly = false): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(html) });
  res.end(headOnly ? undefined : html);
}
