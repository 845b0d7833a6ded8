// What a notification shows and opens (issue 18), for the open app's desktop notifications; the
// service worker (web/public/sw.js, plain JS) applies the same rules to Web Push payloads, and
// test/sw.test.ts checks that both agree.
import type { Notification as ProtoNotification } from "@parley/client";

export type NotificationReason = "direct" | "mention" | "room_mention" | "thread_reply" | "room_message" | "";

/** A notification as the app shows it (from the socket's protobuf Notification, or a JSON payload). */
export interface ShownNotification {
  id: string;
  roomId: string;
  seq: number;
  threadRootId: string;
  reason: NotificationReason;
  senderName: string;
  roomName: string;
  preview: string;
  sound: boolean;
}

const REASONS: NotificationReason[] = ["", "direct", "mention", "room_mention", "thread_reply", "room_message"];

export function reasonName(value: unknown): NotificationReason {
  if (typeof value === "number") return REASONS[value] ?? "";
  const name = String(value ?? "").toLowerCase().replace(/^reason_/, "");
  return (REASONS as string[]).includes(name) ? (name as NotificationReason) : "";
}

const str = (value: unknown): string => (typeof value === "string" ? value : value === undefined || value === null ? "" : String(value));

/** The socket's Notification (bigint seq, numeric reason) in the app's shape. */
export function fromProto(n: Pick<ProtoNotification, "id" | "roomId" | "seq" | "threadRootId" | "reason" | "senderName" | "roomName" | "preview" | "sound">): ShownNotification {
  const seq = Number(n.seq);
  return {
    id: n.id,
    roomId: n.roomId,
    seq: Number.isSafeInteger(seq) && seq > 0 ? seq : 0,
    threadRootId: n.threadRootId,
    reason: reasonName(n.reason),
    senderName: n.senderName,
    roomName: n.roomName,
    preview: n.preview,
    sound: n.sound,
  };
}

/** A JSON payload (camelCase or snake_case fields), as a push carries it. */
export function fromJson(payload: Record<string, unknown>): ShownNotification {
  const at = (camel: string, snake: string) => (payload[camel] !== undefined ? payload[camel] : payload[snake]);
  const seq = Number(str(at("seq", "seq")) || 0);
  return {
    id: str(at("id", "id")),
    roomId: str(at("roomId", "room_id")),
    seq: Number.isSafeInteger(seq) && seq > 0 ? seq : 0,
    threadRootId: str(at("threadRootId", "thread_root_id")),
    reason: reasonName(at("reason", "reason")),
    senderName: str(at("senderName", "sender_name")),
    roomName: str(at("roomName", "room_name")),
    preview: str(at("preview", "preview")),
    sound: at("sound", "sound") === true,
  };
}

/** Where a click opens: `/rooms/<roomId>?reply=<seq>`, with `&thread=<rootId>` for a thread reply. */
export function notificationUrl(n: Pick<ShownNotification, "roomId" | "seq" | "threadRootId">): string {
  if (!n.roomId) return "/";
  const params = new URLSearchParams();
  if (n.seq > 0) params.set("reply", String(n.seq));
  if (n.threadRootId) params.set("thread", n.threadRootId);
  const query = params.toString();
  return `/rooms/${encodeURIComponent(n.roomId)}${query ? `?${query}` : ""}`;
}

function withoutPreview(n: ShownNotification): string {
  const who = n.senderName || "Someone";
  switch (n.reason) {
    case "direct":
      return `${who} sent you a message`;
    case "mention":
      return `${who} mentioned you`;
    case "room_mention":
      return `${who} mentioned everyone`;
    case "thread_reply":
      return `${who} replied in a thread`;
    default:
      return `${who} wrote a message`;
  }
}

/** Title (the room, or the sender of a direct message), body ("sender: preview"), tag (the id) and target. */
export function presentNotification(n: ShownNotification): { title: string; body: string; tag: string; url: string } {
  const sender = n.senderName || "Someone";
  const direct = !n.roomName;
  const preview = n.preview.trim();
  return {
    title: direct ? sender : n.roomName,
    body: preview ? (direct ? preview : `${sender}: ${preview}`) : withoutPreview(n),
    tag: n.id || `parley-${n.roomId}-${n.seq}`,
    url: notificationUrl(n),
  };
}

/** Whether the open app shows a desktop notification now: only while its tab is hidden, when the person wants them and the browser lets it. */
export function shouldShowDesktop(state: { visibility: DocumentVisibilityState | string; desktopEnabled: boolean; permission: NotificationPermission | "unsupported" }): boolean {
  return state.visibility === "hidden" && state.desktopEnabled && state.permission === "granted";
}

/** A path inside the app (a message posted by the service worker is checked before the router follows it). */
export function appPath(url: string, origin: string): string | undefined {
  try {
    const parsed = new URL(url, origin);
    if (parsed.origin !== origin) return undefined;
    return `${parsed.pathname}${parsed.search}${parsed.hash}`;
  } catch {
    return undefined;
  }
}
