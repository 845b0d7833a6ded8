// The links notifications open (issue 18): one shape for push payloads and emails.

/** `${publicUrl}/rooms/<roomId>?reply=<seq>`, plus `&thread=<rootId>` for a thread reply. */
export function messageUrl(publicUrl: string, roomId: string, seq: bigint | number | string, threadRootId?: string): string {
  const base = publicUrl.replace(/\/+$/, "");
  const thread = threadRootId ? `&thread=${encodeURIComponent(threadRootId)}` : "";
  return `${base}/rooms/${encodeURIComponent(roomId)}?reply=${encodeURIComponent(String(seq))}${thread}`;
}

/** `${publicUrl}/api/v1/notifications/unsubscribe?token=<token>` (List-Unsubscribe, RFC 8058). */
export function unsubscribeUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, "")}/api/v1/notifications/unsubscribe?token=${encodeURIComponent(token)}`;
}
