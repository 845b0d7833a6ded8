// The app's one LiveClient (@parley/client): where the socket tier is comes
// from GET /api/v1/config; tokens come from the session. It reconnects, resumes
// every room from its last seq, dedupes, and retries sends with their clientMsgId.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { LiveClient, PresenceState, type ConnectionState, type Message } from "@parley/client";
import { fileJsonOf, linkPreviewJsonOf } from "@parley/client";
import { accessToken, refreshAccessToken } from "./session";
import { mentionFieldsOf } from "./mentions";
import type { ChatMessage } from "./types";

export type { ConnectionState };
export type Presence = "online" | "away" | "offline";

/** Where browsers open the socket (the edge knows; the app may be served from anywhere). */
export async function socketUrl(): Promise<string> {
  const response = await fetch("/api/v1/config", { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`GET /api/v1/config: ${response.status}`);
  const config = (await response.json()) as { socketUrl?: unknown };
  if (typeof config.socketUrl !== "string") throw new Error("GET /api/v1/config: no socketUrl");
  return config.socketUrl;
}

export function createLiveClient(url: string): LiveClient {
  // A token the socket tier refuses (401 before the upgrade) looks like any failed
  // connection: when a token got us nowhere, the next attempt renews it first.
  let tokenFailed = false;
  let lastForcedRenewal = 0;
  const getToken = async (): Promise<string> => {
    // While connected, the client asks for a token to reauthenticate: the usual one.
    if (client.connectionState === "live") return accessToken();
    if (tokenFailed && Date.now() - lastForcedRenewal > 30_000) {
      lastForcedRenewal = Date.now();
      return refreshAccessToken();
    }
    tokenFailed = true;
    return accessToken();
  };
  const client: LiveClient = new LiveClient({
    url,
    getToken,
    // A person is waiting: come back quickly, but never in lockstep with everyone else.
    backoff: { baseMs: 300, maxMs: 8_000 },
    sendTimeoutMs: 45_000,
    // A network gone silently (no close ever comes) is noticed within about 20 s.
    heartbeatMs: 15_000,
    heartbeatTimeoutMs: 5_000,
  });
  client.on("state", (state) => {
    if (state === "live") tokenFailed = false;
  });
  return client;
}

const iso = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : "");

/** A socket message in the API's shape (the one messages.list returns). */
export function toChatMessage(message: Message): ChatMessage {
  return {
    id: message.id,
    roomId: message.roomId,
    seq: Number(message.seq),
    senderId: message.senderId,
    body: message.body,
    clientMsgId: message.clientMsgId,
    replyToId: message.replyToId || null,
    createdAt: iso(message.createTime),
    editedAt: message.editTime ? iso(message.editTime) : null,
    deleted: message.deleted,
    change: Number(message.change),
    reactions: message.reactions.map((r) => ({ emoji: r.emoji, count: r.count, userIds: [...r.userIds] })),
    pinnedAt: message.pinTime ? iso(message.pinTime) : null,
    pinnedBy: message.pinnedById || null,
    threadRootId: message.threadRootId || null,
    alsoSentToRoom: message.alsoSentToRoom,
    thread: message.thread
      ? {
          replyCount: message.thread.replyCount,
          lastReplyAt: message.thread.lastReplyTime ? iso(message.thread.lastReplyTime) : null,
          participantIds: [...message.thread.participantIds],
          lastReplySeq: Number(message.thread.lastReplySeq),
        }
      : null,
    ...mentionFieldsOf(message),
    attachments: message.attachments.map(fileJsonOf),
    linkPreviews: message.linkPreviews.map(linkPreviewJsonOf),
  };
}

export function presenceName(state: PresenceState): Presence {
  if (state === PresenceState.ONLINE) return "online";
  if (state === PresenceState.AWAY) return "away";
  return "offline";
}
