// Every object the edge returns, built field by field from service messages:
// nothing a service adds later leaks by accident. The zod schemas document the
// shapes (OpenAPI) and the shapers are typed by them.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { z } from "zod";
import { MentionBroadcast, type LinkPreview, type Message, type MessageVersion, type Thread } from "@parley/proto/message/v1/message_pb";
import type { File } from "@parley/proto/file/v1/file_pb";
import { fileJsonOf, linkPreviewJsonOf } from "@parley/client/files";
import { Role, RoomKind, type Member, type Membership, type Room, type RoomChange, type RoomSummary } from "@parley/proto/room/v1/room_pb";
import type { Session, TokenPair } from "@parley/proto/auth/v1/auth_pb";
import type { User } from "@parley/proto/user/v1/user_pb";
import {
  Level,
  type GetPreferencesResponse,
  type Preferences,
  type PushSubscription,
  type RoomPreference,
  type ThreadPreference,
} from "@parley/proto/notify/v1/notify_pb";
import { EdgeError } from "./errors.js";

const iso = z.string().describe("ISO 8601 time");
const isoOrNull = iso.nullable();

export const UserOut = z.object({
  id: z.string(),
  username: z.string(),
  displayName: z.string(),
  avatarUrl: z.string(),
  statusText: z.string(),
  createdAt: iso,
  updatedAt: iso,
  email: z.string().optional().describe("only in your own profile"),
});
export type UserOut = z.infer<typeof UserOut>;

export const AuthOut = z.object({
  user: UserOut,
  accessToken: z.string(),
  refreshToken: z.string(),
  expiresIn: z.number().describe("seconds until the access token expires"),
});
export type AuthOut = z.infer<typeof AuthOut>;

export const SessionOut = z.object({
  id: z.string(),
  createdAt: iso,
  lastUsedAt: iso,
  expiresAt: iso,
  userAgent: z.string(),
  clientAddress: z.string(),
  current: z.boolean(),
});

export const Visibility = z.enum(["public", "private", "direct"]);
export const RoleName = z.enum(["owner", "admin", "member"]);

export const RoomOut = z.object({
  id: z.string(),
  visibility: Visibility,
  name: z.string(),
  topic: z.string(),
  createdBy: z.string(),
  createdAt: iso,
  archived: z.boolean(),
  memberCount: z.number(),
  directMemberIds: z.array(z.string()).describe("every member of a direct room (2 for a 1:1 conversation, 3 to 8 for a group), ascending"),
  lastChange: z.number().describe("the room lane's newest position: resume GET /rooms/{id}/changes (or a socket Subscribe) after it"),
  membersCanPin: z.boolean().describe("every member may pin messages (otherwise admins and the owner)"),
  description: z.string().describe("what the room is for: 0-1,000 characters, several lines (light markdown, shown as text)"),
  membersCanMentionEveryone: z.boolean().describe("every member may use @room and @here (otherwise admins and the owner)"),
});
export type RoomOut = z.infer<typeof RoomOut>;

export const MembershipOut = z.object({
  roomId: z.string(),
  userId: z.string(),
  role: RoleName,
  joinedAt: iso,
  lastReadSeq: z.number(),
});

export const RoomSummaryOut = RoomOut.extend({
  role: RoleName,
  lastReadSeq: z.number(),
  lastSeq: z.number(),
  unreadCount: z.number(),
  mentionCount: z.number().describe("unread messages that mention you (@username) or are @room / @here"),
  unreadThreadCount: z.number().describe("threads of the room you follow with replies you have not read"),
  lastActivityAt: isoOrNull,
});

export const MemberOut = z.object({
  userId: z.string(),
  role: RoleName,
  joinedAt: iso,
  user: UserOut.nullable(),
});

// --- files and link previews (issue 19) ---

export const FileDisplayName = z.enum(["image", "video", "audio", "download"]);
export type FileDisplayName = z.infer<typeof FileDisplayName>;

export const FileOut = z.object({
  id: z.string(),
  roomId: z.string(),
  uploaderId: z.string(),
  messageId: z.string().nullable().describe("the message it is attached to; null while unattached (uploaded, not sent yet)"),
  name: z.string().describe("the name as uploaded (path separators and control characters removed)"),
  size: z.number().describe("bytes"),
  mediaType: z.string().describe("sniffed from the bytes, never what the uploader said"),
  display: FileDisplayName.describe("how to show it: image (inline, never SVG), video or audio (a player), download (a card)"),
  width: z.number().nullable().describe("images: pixels after orientation"),
  height: z.number().nullable(),
  animated: z.boolean().describe("an animated image (its thumbnail is animated too)"),
  thumbnail: z
    .object({ width: z.number(), height: z.number() })
    .nullable()
    .describe("images: the thumbnail's size (GET /api/v1/files/{id}/thumbnail), null when it has none"),
  createdAt: iso,
});
export type FileOut = z.infer<typeof FileOut>;

export const LinkPreviewOut = z.object({
  url: z.string().describe("the link as written in the message (no fragment)"),
  title: z.string().describe("plain text, never HTML"),
  description: z.string(),
  siteName: z.string(),
  image: z
    .object({ url: z.string().describe("/api/v1/link-images/{id}: re-hosted by the server, no third party is called"), width: z.number(), height: z.number() })
    .nullable(),
});
export type LinkPreviewOut = z.infer<typeof LinkPreviewOut>;

export const MessageOut = z.object({
  id: z.string(),
  roomId: z.string(),
  seq: z.number(),
  senderId: z.string(),
  body: z.string(),
  clientMsgId: z.string(),
  replyToId: z.string().nullable(),
  createdAt: iso,
  editedAt: isoOrNull,
  deleted: z.boolean(),
  change: z.number().describe("the message lane position of its latest change (created, edited, deleted, reacted to, pinned, unpinned)"),
  // --- reactions ---
  reactions: z
    .array(
      z.object({
        emoji: z.string().describe("the emoji (a Unicode emoji sequence)"),
        count: z.number().describe("how many people reacted with it"),
        userIds: z.array(z.string()).describe("who reacted, in order: the first 50"),
      }),
    )
    .describe("in the order each emoji was first used"),
  pinnedAt: isoOrNull.describe("set while pinned"),
  pinnedBy: z.string().nullable().describe("who pinned it, while pinned"),
  // --- threads (issue 16) ---
  threadRootId: z.string().nullable().describe("on a thread reply: its thread's root"),
  alsoSentToRoom: z.boolean().describe("a thread reply that the room's timeline shows too"),
  thread: z
    .object({
      replyCount: z.number().describe("replies that are not deleted"),
      lastReplyAt: isoOrNull.describe("the newest such reply's time"),
      participantIds: z.array(z.string()).describe("who replied, the latest first: at most 5"),
      lastReplySeq: z.number().describe("the newest reply's seq (the thread's head for read markers)"),
    })
    .nullable()
    .describe("on a root with replies: its thread's summary"),
  mentionUserIds: z.array(z.string()).describe("the members it mentions by @username (decided by the server; empty once deleted)"),
  mentionBroadcast: z.enum(["room", "here"]).nullable().describe("@room or @here, if it has one"),
  // --- files and link previews (issue 19) ---
  attachments: z.array(FileOut).describe("the files attached at send, in the order given (empty once deleted)"),
  linkPreviews: z.array(LinkPreviewOut).describe("previews of the first links of the body, in their order; they arrive as a later change of the message"),
});
export type MessageOut = z.infer<typeof MessageOut>;

export const ThreadOut = z.object({
  root: MessageOut,
  following: z.boolean(),
  lastReadSeq: z.number().describe("the seq of the newest reply you have read (0: none)"),
  unreadCount: z.number().describe("replies after lastReadSeq that are not deleted and not yours"),
});
export type ThreadOut = z.infer<typeof ThreadOut>;

export const MessageVersionOut = z.object({
  version: z.number().describe("1 is the text as first sent"),
  body: z.string(),
  createdAt: iso.describe("when this text was written (sent or edited)"),
  replacedAt: iso.describe("when the next text replaced it"),
});
export type MessageVersionOut = z.infer<typeof MessageVersionOut>;

const time = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : "");
const timeOrNull = (t: Timestamp | undefined) => (t ? timestampDate(t).toISOString() : null);
/** int64 from services; safe as a JSON number up to 2^53. */
const num = (n: bigint | number) => Number(n);

function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new EdgeError("INTERNAL_SERVER_ERROR", `missing ${what} in a service answer`);
  return value;
}

export function shapeUser(user: User | undefined): UserOut {
  const u = present(user, "user");
  return {
    id: u.id,
    username: u.username,
    displayName: u.displayName,
    avatarUrl: u.avatarUrl,
    statusText: u.statusText,
    createdAt: time(u.createTime),
    updatedAt: time(u.updateTime),
    ...(u.email !== undefined && { email: u.email }),
  };
}

export function shapeAuth(user: User | undefined, tokens: TokenPair | undefined): AuthOut {
  const t = present(tokens, "tokens");
  return { user: shapeUser(user), accessToken: t.accessToken, refreshToken: t.refreshToken, expiresIn: t.expiresIn };
}

export function shapeSession(s: Session): z.infer<typeof SessionOut> {
  return {
    id: s.id,
    createdAt: time(s.createTime),
    lastUsedAt: time(s.lastUseTime),
    expiresAt: time(s.expireTime),
    userAgent: s.userAgent,
    clientAddress: s.clientAddress,
    current: s.current,
  };
}

const VISIBILITY: Record<RoomKind, z.infer<typeof Visibility>> = {
  [RoomKind.UNSPECIFIED]: "private",
  [RoomKind.PUBLIC]: "public",
  [RoomKind.PRIVATE]: "private",
  [RoomKind.DIRECT]: "direct",
};
const ROLE: Record<Role, z.infer<typeof RoleName>> = {
  [Role.UNSPECIFIED]: "member",
  [Role.MEMBER]: "member",
  [Role.ADMIN]: "admin",
  [Role.OWNER]: "owner",
};
export const roleFromName = { member: Role.MEMBER, admin: Role.ADMIN } as const;
export const kindFromVisibility = { public: RoomKind.PUBLIC, private: RoomKind.PRIVATE } as const;

export function shapeRoom(room: Room | undefined): RoomOut {
  const r = present(room, "room");
  return {
    id: r.id,
    visibility: VISIBILITY[r.kind],
    name: r.name,
    topic: r.topic,
    createdBy: r.creatorId,
    createdAt: time(r.createTime),
    archived: r.archived,
    memberCount: r.memberCount,
    directMemberIds: [...r.directMemberIds],
    lastChange: num(r.lastChange),
    membersCanPin: r.membersCanPin,
    description: r.description,
    membersCanMentionEveryone: r.membersCanMentionEveryone,
  };
}

export const RoomChangeKind = z.enum(["memberJoined", "memberLeft", "memberKicked", "memberRoleChanged", "roomUpdated"]);

export const RoomChangeOut = z.object({
  change: z.number().describe("its position in the room lane"),
  at: iso,
  kind: RoomChangeKind,
  byUserId: z.string(),
  userId: z.string().nullable().describe("the member the change is about (not for roomUpdated)"),
  membership: MembershipOut.nullable().describe("memberJoined and memberRoleChanged: the membership then"),
  room: RoomOut.nullable().describe("roomUpdated: the room after the change"),
});
export type RoomChangeOut = z.infer<typeof RoomChangeOut>;

export function shapeRoomChange(c: RoomChange): RoomChangeOut | undefined {
  const base = { change: num(c.change), at: time(c.time), byUserId: c.byUserId, userId: null, membership: null, room: null };
  switch (c.payload.case) {
    case "memberJoined":
    case "memberRoleChanged": {
      const membership = shapeMembership(c.payload.value);
      return { ...base, kind: c.payload.case, userId: membership.userId, membership };
    }
    case "memberLeft":
    case "memberKicked":
      return { ...base, kind: c.payload.case, userId: c.payload.value };
    case "roomUpdated":
      return { ...base, kind: "roomUpdated", room: shapeRoom(c.payload.value) };
    default:
      return undefined; // a kind this edge does not know yet (a newer room service): the position still moves on
  }
}

export function shapeMembership(m: Membership | undefined): z.infer<typeof MembershipOut> {
  const x = present(m, "membership");
  return { roomId: x.roomId, userId: x.userId, role: ROLE[x.role], joinedAt: time(x.joinTime), lastReadSeq: num(x.lastReadSeq) };
}

export function shapeRoomSummary(s: RoomSummary): z.infer<typeof RoomSummaryOut> {
  const membership = shapeMembership(s.membership);
  return {
    ...shapeRoom(s.room),
    role: membership.role,
    lastReadSeq: membership.lastReadSeq,
    lastSeq: num(s.lastSeq),
    unreadCount: num(s.unreadCount),
    mentionCount: num(s.mentionCount),
    unreadThreadCount: num(s.unreadThreadCount),
    lastActivityAt: timeOrNull(s.lastActivityTime),
  };
}

export function shapeMember(m: Member): z.infer<typeof MemberOut> {
  const membership = shapeMembership(m.membership);
  return { userId: membership.userId, role: membership.role, joinedAt: membership.joinedAt, user: m.user ? shapeUser(m.user) : null };
}

const BROADCAST: Partial<Record<MentionBroadcast, "room" | "here">> = { [MentionBroadcast.ROOM]: "room", [MentionBroadcast.HERE]: "here" };

export function shapeMessage(message: Message | undefined): MessageOut {
  const m = present(message, "message");
  return {
    id: m.id,
    roomId: m.roomId,
    seq: num(m.seq),
    senderId: m.senderId,
    body: m.body,
    clientMsgId: m.clientMsgId,
    replyToId: m.replyToId || null,
    createdAt: time(m.createTime),
    editedAt: timeOrNull(m.editTime),
    deleted: m.deleted,
    change: num(m.change),
    reactions: m.reactions.map((r) => ({ emoji: r.emoji, count: r.count, userIds: [...r.userIds] })),
    pinnedAt: timeOrNull(m.pinTime),
    pinnedBy: m.pinnedById || null,
    threadRootId: m.threadRootId || null,
    alsoSentToRoom: m.alsoSentToRoom,
    thread: m.thread
      ? {
          replyCount: m.thread.replyCount,
          lastReplyAt: timeOrNull(m.thread.lastReplyTime),
          participantIds: [...m.thread.participantIds],
          lastReplySeq: num(m.thread.lastReplySeq),
        }
      : null,
    mentionUserIds: [...m.mentionUserIds],
    mentionBroadcast: BROADCAST[m.mentionBroadcast] ?? null,
    attachments: m.attachments.map(shapeFile),
    linkPreviews: m.linkPreviews.map(shapeLinkPreview),
  };
}

/** A file's public fields (@parley/client's fileJsonOf: the web app shapes socket files with it too). */
export function shapeFile(file: File | undefined): FileOut {
  return fileJsonOf(present(file, "file"));
}

export function shapeLinkPreview(p: LinkPreview): LinkPreviewOut {
  return linkPreviewJsonOf(p);
}

export function shapeThread(thread: Thread | undefined): ThreadOut {
  const t = present(thread, "thread");
  return { root: shapeMessage(t.root), following: t.following, lastReadSeq: num(t.lastReadSeq), unreadCount: num(t.unreadCount) };
}

export function shapeMessageVersion(v: MessageVersion): MessageVersionOut {
  return { version: v.version, body: v.body, createdAt: time(v.createTime), replacedAt: time(v.replaceTime) };
}

// --- notifications (issue 18) ---

/** A notification level: every message, mentions and direct messages, or nothing. */
export const LevelName = z.enum(["all", "mentions", "nothing"]);
export type LevelName = z.infer<typeof LevelName>;
/** A room's level: its own, or "default" (the person's defaultLevel). */
export const RoomLevelName = z.enum(["default", "all", "mentions", "nothing"]);
export type RoomLevelName = z.infer<typeof RoomLevelName>;

const LEVEL_NAME: Record<Level, RoomLevelName> = {
  [Level.UNSPECIFIED]: "default",
  [Level.ALL]: "all",
  [Level.MENTIONS]: "mentions",
  [Level.NOTHING]: "nothing",
};
export const levelFromName: Record<RoomLevelName, Level> = {
  default: Level.UNSPECIFIED,
  all: Level.ALL,
  mentions: Level.MENTIONS,
  nothing: Level.NOTHING,
};
export const DoNotDisturbOut = z.object({
  enabled: z.boolean(),
  startMinute: z.number().describe("minutes after midnight (0-1439) in timeZone when the quiet hours start"),
  endMinute: z.number().describe("minutes after midnight (0-1439) when they end; equal to startMinute: the whole day"),
  timeZone: z.string().describe("an IANA time zone"),
});

export const PreferencesOut = z.object({
  defaultLevel: LevelName.describe("the level of rooms without their own"),
  desktop: z.boolean().describe("desktop notifications in the open web app (while its tab is hidden)"),
  push: z.boolean().describe("Web Push to your subscribed devices while you are not online"),
  email: z.boolean().describe("an email for mentions and direct messages still unread after emailDelaySeconds (where the server sends email)"),
  emailDelaySeconds: z.number().describe("60-86400; default 900"),
  hidePreviews: z.boolean().describe("leave the message text out of push notifications"),
  sound: z.boolean().describe("a sound with desktop notifications"),
  dnd: DoNotDisturbOut.describe("do-not-disturb hours, every day: no desktop or push notification while they last; emails wait"),
  pausedUntil: isoOrNull.describe("notifications paused (as with do-not-disturb) until then"),
});
export type PreferencesOut = z.infer<typeof PreferencesOut>;

export const RoomPreferenceOut = z.object({
  roomId: z.string(),
  level: RoomLevelName,
  mutedUntil: isoOrNull.describe("muted (nothing notifies, badges stay quiet) until then; 9999-12-31: until unmuted"),
});
export type RoomPreferenceOut = z.infer<typeof RoomPreferenceOut>;

export const ThreadPreferenceOut = z.object({
  roomId: z.string(),
  threadRootId: z.string(),
  mutedUntil: isoOrNull.describe("replies in the thread do not notify until then"),
});
export type ThreadPreferenceOut = z.infer<typeof ThreadPreferenceOut>;

export const NotificationSettingsOut = z.object({
  preferences: PreferencesOut,
  rooms: z.array(RoomPreferenceOut).describe("every room of yours whose setting differs from the defaults"),
  threads: z.array(ThreadPreferenceOut).describe("every muted thread"),
});
export type NotificationSettingsOut = z.infer<typeof NotificationSettingsOut>;

export const PushSubscriptionOut = z.object({
  id: z.string(),
  endpointOrigin: z.string().describe("the push service's origin (the full endpoint is a capability and is never returned)"),
  deviceLabel: z.string(),
  createdAt: iso,
  lastSuccessAt: isoOrNull.describe("the last push the push service accepted"),
});
export type PushSubscriptionOut = z.infer<typeof PushSubscriptionOut>;

export function shapePreferences(preferences: Preferences | undefined): PreferencesOut {
  const p = present(preferences, "preferences");
  const level = LEVEL_NAME[p.defaultLevel];
  return {
    defaultLevel: level === "default" ? "mentions" : level,
    desktop: p.desktop,
    push: p.push,
    email: p.email,
    emailDelaySeconds: p.emailDelaySeconds,
    hidePreviews: p.hidePreviews,
    sound: p.sound,
    dnd: {
      enabled: p.dnd?.enabled ?? false,
      startMinute: p.dnd?.startMinute ?? 0,
      endMinute: p.dnd?.endMinute ?? 0,
      timeZone: p.dnd?.timeZone || "UTC",
    },
    pausedUntil: timeOrNull(p.pausedUntil),
  };
}

export function shapeRoomPreference(room: RoomPreference | undefined): RoomPreferenceOut {
  const r = present(room, "room preference");
  return { roomId: r.roomId, level: LEVEL_NAME[r.level] ?? "default", mutedUntil: timeOrNull(r.mutedUntil) };
}

export function shapeThreadPreference(thread: ThreadPreference | undefined): ThreadPreferenceOut {
  const t = present(thread, "thread preference");
  return { roomId: t.roomId, threadRootId: t.threadRootId, mutedUntil: timeOrNull(t.mutedUntil) };
}

export function shapeNotificationSettings(answer: GetPreferencesResponse): NotificationSettingsOut {
  return {
    preferences: shapePreferences(answer.preferences),
    rooms: answer.rooms.map(shapeRoomPreference),
    threads: answer.threads.map(shapeThreadPreference),
  };
}

export function shapePushSubscription(subscription: PushSubscription | undefined): PushSubscriptionOut {
  const s = present(subscription, "push subscription");
  return { id: s.id, endpointOrigin: s.endpointOrigin, deviceLabel: s.deviceLabel, createdAt: time(s.createTime), lastSuccessAt: timeOrNull(s.lastSuccessTime) };
}

// The client library's types (@parley/client/files) are the same shapes: a change here must be made there.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameFile: Same<FileOut, import("@parley/client/files").FileJson> = true;
const sameLinkPreview: Same<LinkPreviewOut, import("@parley/client/files").LinkPreviewJson> = true;
void sameFile;
void sameLinkPreview;
