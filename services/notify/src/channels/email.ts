// Email notifications (issue 18): one email per person per batch of mentions and direct messages
// still unread after their email delay, in plain text and HTML, a link to each message, and
// one-click unsubscribe (RFC 8058: List-Unsubscribe with an https URL, List-Unsubscribe-Post).
//
// renderDigest is pure: the same batch renders the same email, with a Message-ID made from the
// batch id (the idempotency key), so a batch sent again after a worker died mid-send carries the
// same Message-ID and mail systems can recognise the repeat. Everything the people of a room wrote
// (names, room names, message text) is escaped in the HTML, and only http(s) links become links.
//
// createMailer sends through SMTP (nodemailer) when SMTP_URL is set; send() never throws and says
// what to do next: sent | retry (4xx, connection and timeout errors, an authentication failure: the
// server's configuration, not the email) | rejected (a permanent 5xx for this email or recipient).
import { createHash } from "node:crypto";
import nodemailer from "nodemailer";

export type EmailReason = "direct" | "mention" | "room_mention" | "thread_reply" | "room_message";

export interface DigestItem {
  /** Empty for a direct conversation. */
  roomName: string;
  senderName: string;
  /** The message's text (plain; markdown is shown as written). */
  text: string;
  time: Date | string;
  /** The message's link: `${PUBLIC_URL}/rooms/<roomId>?reply=<seq>[&thread=<rootId>]` (links.ts messageUrl). */
  url: string;
  reason: EmailReason;
}

export interface DigestInput {
  to: { name: string; email: string };
  items: readonly DigestItem[];
  /** `${PUBLIC_URL}/api/v1/notifications/unsubscribe?token=...` (links.ts unsubscribeUrl): https. */
  unsubscribeUrl: string;
  /** "Parley", or what the operator calls it. */
  appName: string;
  publicUrl: string;
  /** The batch's idempotency key: the Message-ID is made from it. */
  batchId: string;
  /** The person's time zone for the times shown (IANA); default UTC. */
  timeZone?: string;
}

export interface DigestEmail {
  to: { name: string; email: string };
  subject: string;
  text: string;
  html: string;
  /** "<...@host>": also in headers["Message-ID"]. */
  messageId: string;
  /** Message-ID, List-Unsubscribe, List-Unsubscribe-Post, Auto-Submitted, X-Auto-Response-Suppress. */
  headers: Record<string, string>;
}

/** The most items shown in one email (the rest are counted: "and 12 more"). */
export const MAX_DIGEST_ITEMS = 50;
/** The most characters of one message's text shown. */
export const MAX_ITEM_TEXT = 1000;

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text as HTML text or attribute value: & < > " ' escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Control characters (CR, LF ...) out and runs of space folded: what a header or a one-line label may hold. */
function oneLine(text: string, max = 200): string {
  const cleaned = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ").replace(/\s+/g, " ").trim();
  const chars = [...cleaned];
  return chars.length <= max ? cleaned : `${chars.slice(0, max - 1).join("")}…`;
}

function clip(text: string, max: number): string {
  const cleaned = text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, "").replace(/\r\n?/g, "\n").trim();
  const chars = [...cleaned];
  return chars.length <= max ? cleaned : `${chars.slice(0, max - 1).join("")}…`;
}

/** The URL when it is http(s), else null (a javascript: or data: URL never becomes a link). */
function safeUrl(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * `<notify.<batch>@<PUBLIC_URL's host>>`: the batch id as is when it is made of letters, digits,
 * ".", "-" and "_" (at most 64), else the start of its SHA-256 (hex). The same batch, the same id.
 */
export function digestMessageId(batchId: string, publicUrl: string): string {
  if (!batchId) throw new Error("email: a batch id is required (the Message-ID is made from it)");
  let host = "localhost";
  try {
    host = new URL(publicUrl).hostname.replace(/^\[|\]$/g, "") || host;
  } catch {
    // keep localhost
  }
  if (!/^[A-Za-z0-9.-]+$/.test(host)) host = "localhost"; // an IPv6 literal is no dot-atom
  const local = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(batchId) && !batchId.includes("..") && !batchId.endsWith(".")
    ? batchId
    : createHash("sha256").update(batchId, "utf8").digest("hex").slice(0, 40);
  return `<notify.${local}@${host}>`;
}

function formatTime(time: Date | string, timeZone: string): string {
  const date = typeof time === "string" ? new Date(time) : time;
  if (Number.isNaN(date.getTime())) return "";
  let zone = timeZone;
  try {
    new Intl.DateTimeFormat("en-GB", { timeZone: zone });
  } catch {
    zone = "UTC";
  }
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone,
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  }).format(date);
  return parts;
}

function whereOf(item: DigestItem): string {
  const room = oneLine(item.roomName, 100);
  if (!room) return "a direct message";
  return `#${room}`;
}

function whyOf(item: DigestItem): string {
  switch (item.reason) {
    case "direct":
      return "sent you a direct message";
    case "mention":
      return "mentioned you";
    case "room_mention":
      return "mentioned everyone";
    case "thread_reply":
      return "replied in a thread you follow";
    case "room_message":
      return "wrote";
  }
}

function subjectOf(input: DigestInput): string {
  const items = input.items;
  const first = items[0]!;
  const sender = oneLine(first.senderName, 60) || "Someone";
  if (items.length === 1) {
    const room = oneLine(first.roomName, 60);
    const where = first.reason === "direct" || !room ? "" : ` in #${room}`;
    return oneLine(`${sender} ${whyOf(first)}${where}`, 150);
  }
  const senders = new Set(items.map((item) => oneLine(item.senderName, 60)));
  const from = senders.size === 1 ? ` from ${sender}` : "";
  return oneLine(`${items.length} unread messages${from} in ${oneLine(input.appName, 40)}`, 150);
}

/** The email for one batch. Throws on input no email can be made of (no items, no recipient, a non-https unsubscribe URL). */
export function renderDigest(input: DigestInput): DigestEmail {
  if (input.items.length === 0) throw new Error("email: a digest needs at least one item");
  const email = oneLine(input.to.email, 320);
  if (!/^[^\s@<>()",;]+@[^\s@<>()",;]+$/.test(email)) throw new Error("email: the recipient's address is not an email address");
  const unsubscribe = safeUrl(input.unsubscribeUrl);
  if (!unsubscribe || !unsubscribe.startsWith("https:")) {
    // RFC 8058: the one-click URI must be https. Plain http only for a local server (tests, development).
    const local = unsubscribe && /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?\//.test(unsubscribe);
    if (!local) throw new Error("email: the unsubscribe URL must be an https URL");
  }
  const appName = oneLine(input.appName, 60) || "Parley";
  const home = safeUrl(input.publicUrl);
  const timeZone = input.timeZone || "UTC";
  const shown = input.items.slice(0, MAX_DIGEST_ITEMS);
  const more = input.items.length - shown.length;
  const messageId = digestMessageId(input.batchId, input.publicUrl);
  const recipientName = oneLine(input.to.name, 100);

  // ---- plain text
  const lines: string[] = [];
  lines.push(`Hi ${recipientName || email},`, "");
  lines.push(
    shown.length === 1 ? `You have an unread message in ${appName}:` : `You have ${input.items.length} unread messages in ${appName}:`,
    "",
  );
  for (const item of shown) {
    const url = safeUrl(item.url);
    lines.push(`${oneLine(item.senderName, 100) || "Someone"} ${whyOf(item)} (${whereOf(item)}, ${formatTime(item.time, timeZone)}):`);
    for (const line of clip(item.text, MAX_ITEM_TEXT).split("\n")) lines.push(`> ${line}`);
    if (url) lines.push(`Open: ${url}`);
    lines.push("");
  }
  if (more > 0) lines.push(`... and ${more} more.`, "");
  lines.push("--");
  lines.push(`You get this email because these messages were still unread in ${appName}.`);
  lines.push(`Unsubscribe from these emails: ${unsubscribe}`);
  if (home) lines.push(`Change your notification settings in ${appName}: ${home}`);
  const text = `${lines.join("\n")}\n`;

  // ---- HTML
  const e = escapeHtml;
  const cards = shown
    .map((item) => {
      const url = safeUrl(item.url);
      const sender = e(oneLine(item.senderName, 100) || "Someone");
      const body = e(clip(item.text, MAX_ITEM_TEXT)).replace(/\n/g, "<br>\n");
      const open = url ? `<p style="margin:8px 0 0"><a href="${e(url)}" style="color:#2563eb">Open in ${e(appName)}</a></p>` : "";
      return [
        `<div style="border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;margin:0 0 12px">`,
        `<p style="margin:0 0 6px;color:#374151"><strong>${sender}</strong> ${e(whyOf(item))} <span style="color:#6b7280">· ${e(whereOf(item))} · ${e(formatTime(item.time, timeZone))}</span></p>`,
        `<div style="margin:0;color:#111827;white-space:normal">${body}</div>`,
        open,
        `</div>`,
      ].join("\n");
    })
    .join("\n");
  const subject = subjectOf(input);
  const html = [
    "<!doctype html>",
    `<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${e(subject)}</title></head>`,
    `<body style="margin:0;padding:24px;background:#f9fafb;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5">`,
    `<div style="max-width:600px;margin:0 auto;background:#ffffff;border-radius:8px;padding:24px">`,
    `<p style="margin:0 0 16px">Hi ${e(recipientName || email)},</p>`,
    `<p style="margin:0 0 16px">${shown.length === 1 ? `You have an unread message in ${e(appName)}:` : `You have ${input.items.length} unread messages in ${e(appName)}:`}</p>`,
    cards,
    more > 0 ? `<p style="margin:0 0 12px;color:#6b7280">… and ${more} more.</p>` : "",
    `<hr style="border:none;border-top:1px solid #e5e7eb;margin:24px 0 12px">`,
    `<p style="margin:0;color:#6b7280;font-size:13px">You get this email because these messages were still unread in ${e(appName)}. ` +
      `<a href="${e(unsubscribe!)}" style="color:#6b7280">Unsubscribe from these emails</a>` +
      (home ? ` · <a href="${e(home)}" style="color:#6b7280">Notification settings</a>` : "") +
      `</p>`,
    `</div></body></html>`,
    "",
  ]
    .filter((line) => line !== "")
    .join("\n");

  return {
    to: { name: recipientName, email },
    subject,
    text,
    html,
    messageId,
    headers: {
      "Message-ID": messageId,
      "List-Unsubscribe": `<${unsubscribe}>`,
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      // RFC 3834: no vacation replies to a machine.
      "Auto-Submitted": "auto-generated",
      "X-Auto-Response-Suppress": "All",
    },
  };
}

// ---------- sending ----------

export type MailOutcome =
  | { kind: "sent"; messageId: string; response: string }
  | { kind: "retry"; responseCode?: number; detail: string }
  | { kind: "rejected"; responseCode?: number; detail: string };

export interface Mailer {
  /** MAIL_FROM, as given ("Parley <notifications@chat.example.com>"). */
  from: string;
  send(message: DigestEmail): Promise<MailOutcome>;
  /** Closes the SMTP connection(s). */
  close(): void;
}

export interface MailerEnv {
  /** smtp://user:pass@host:587 or smtps://host:465 (nodemailer's URL options apply: ?pool=true ...). Unset: no email. */
  SMTP_URL?: string | undefined;
  /** The From of every email: "Parley <notifications@chat.example.com>" or an address. Required with SMTP_URL. */
  MAIL_FROM?: string | undefined;
}

export interface MailerOptions {
  /** Defaults: 10 s to connect, 10 s for the greeting, 30 s of silence mid-conversation. */
  connectionTimeoutMs?: number;
  greetingTimeoutMs?: number;
  socketTimeoutMs?: number;
}

/** A mailer for SMTP_URL, or null when SMTP_URL is unset (email notifications are off). */
export function createMailer(env: MailerEnv, options: MailerOptions = {}): Mailer | null {
  const url = env.SMTP_URL?.trim();
  if (!url) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error("SMTP_URL: not a URL (smtp://user:pass@host:587 or smtps://host:465)");
  }
  if (parsed.protocol !== "smtp:" && parsed.protocol !== "smtps:") {
    throw new Error(`SMTP_URL: must be an smtp: or smtps: URL (got ${parsed.protocol})`);
  }
  const from = env.MAIL_FROM?.trim();
  if (!from) throw new Error("MAIL_FROM: required when SMTP_URL is set (e.g. \"Parley <notifications@chat.example.com>\")");
  if (!/@/.test(from) || /[\r\n]/.test(from)) throw new Error("MAIL_FROM: not an email address");
  const transport = nodemailer.createTransport({
    url,
    connectionTimeout: options.connectionTimeoutMs ?? 10_000,
    greetingTimeout: options.greetingTimeoutMs ?? 10_000,
    socketTimeout: options.socketTimeoutMs ?? 30_000,
  });
  return {
    from,
    async send(message) {
      try {
        const info = await transport.sendMail({
          from,
          to: { name: message.to.name, address: message.to.email },
          subject: message.subject,
          text: message.text,
          html: message.html,
          messageId: message.messageId,
          headers: Object.fromEntries(
            Object.entries(message.headers)
              .filter(([name]) => name.toLowerCase() !== "message-id")
              // Already ASCII and unfolded: sent as they are (List-Unsubscribe's <URL> must stay whole).
              .map(([name, value]) => [name, { prepared: true, value: value.replace(/[\r\n]/g, "") }]),
          ),
        });
        if (info.rejected.length > 0 && info.accepted.length === 0) {
          return { kind: "rejected", detail: `smtp: the recipient was refused: ${info.response}` };
        }
        return { kind: "sent", messageId: info.messageId, response: info.response };
      } catch (error) {
        return mailOutcomeOf(error);
      }
    },
    close() {
      transport.close();
    },
  };
}

/** An SMTP error as an outcome: 5xx is permanent; 4xx, connections, timeouts and authentication are retried. */
export function mailOutcomeOf(error: unknown): MailOutcome {
  const e = error as { code?: string; responseCode?: number; response?: string; message?: string };
  const responseCode = typeof e.responseCode === "number" ? e.responseCode : undefined;
  const detail = `smtp: ${e.code ? `${e.code} ` : ""}${(e.response ?? e.message ?? String(error)).slice(0, 500)}`;
  const withCode = responseCode === undefined ? {} : { responseCode };
  // A refused login is the operator's to fix, not this email's: keep it for later.
  if (e.code === "EAUTH" || e.code === "ENOAUTH") return { kind: "retry", ...withCode, detail };
  // What nodemailer refuses before the server says anything (no recipient, a malformed message): ours to fix.
  if (responseCode === undefined && (e.code === "EENVELOPE" || e.code === "EMESSAGE" || e.code === "ECONFIG")) return { kind: "rejected", detail };
  if (responseCode !== undefined && responseCode >= 500 && responseCode < 600) return { kind: "rejected", ...withCode, detail };
  return { kind: "retry", ...withCode, detail };
}
