// The message service's tables: messages (with their per-room seq), the
// previous versions of edited messages, and each room's head (last seq).
import { defineEntity, type InferEntity } from "@mikro-orm/core";
import { linkPreviewEntities } from "./previews/entities.js";

const p = defineEntity.properties;

export const Message = defineEntity({
  name: "Message",
  tableName: "messages",
  properties: {
    id: p.uuid().primary(),
    roomId: p.uuid(),
    // 1, 2, 3... per room without gaps; a deleted message keeps its row and seq.
    seq: p.bigint(),
    // The room stream position of its latest change (created, edited, deleted): per room 1, 2, 3...
    // without gaps across the room's messages, taken from room_heads.last_change in that change's transaction.
    change: p.bigint(),
    senderId: p.uuid(),
    // Trimmed; empty once deleted.
    body: p.text(),
    clientMsgId: p.string().length(64),
    replyToId: p.uuid().nullable(),
    createdAt: p.datetime(),
    editedAt: p.datetime().nullable(),
    deletedAt: p.datetime().nullable(),
    // Set while pinned (issue 16); a delete unpins.
    pinnedAt: p.datetime().nullable(),
    pinnedById: p.uuid().nullable(),
    // --- threads (issue 16) ---
    // On a reply: its thread's root (never a reply); alsoSentToRoom puts it in the room's timeline too.
    threadRootId: p.uuid().nullable(),
    alsoSentToRoom: p.boolean().default(false),
    // On a root: its thread's summary, changed in each reply's (and reply delete's) transaction.
    replyCount: p.integer().default(0),
    lastReplyAt: p.datetime().nullable(),
    lastReplySeq: p.bigint().default(0),
    threadParticipantIds: p.array().default([]),
    // Mentions (issue 16), parsed at send and on edit: the members named by @username (as on the
    // wire; message_mentions indexes them) and @room / @here (MentionBroadcast: 0 none, 1 room, 2 here).
    mentionUserIds: p.json<string[]>().default("[]"),
    mentionBroadcast: p.smallint().default(0),
    // Search (issue 17; Migration20261203100000_search): kept by PostgreSQL from body, read only by
    // the search query (lazy: never selected with a message, never written).
    searchVector: p
      .string()
      .columnType("tsvector")
      .generated("(to_tsvector('english'::regconfig, body)) stored")
      .nullable()
      .lazy()
      .hidden(),
    hasLink: p
      .boolean()
      .generated("(body ~* '(https?://|www\\.)[^[:space:]]'::text) stored")
      .nullable()
      .lazy()
      .hidden(),
  },
  uniques: [
    // Paging by seq walks this index, so the end of a long room is as cheap as its start.
    { name: "messages_room_id_seq_unique", properties: ["roomId", "seq"] },
    // Makes a retried send find its original instead of storing a second message.
    { name: "messages_sender_id_client_msg_id_unique", properties: ["senderId", "clientMsgId"] },
    // A resume or a fill reads the changes after a position in order: a range scan of this index.
    { name: "messages_room_id_change_unique", properties: ["roomId", "change"] },
  ],
  indexes: [
    // ListPins: a room's pinned messages, newest pin first.
    {
      name: "messages_room_id_pinned_at_index",
      expression: `create index "messages_room_id_pinned_at_index" on "messages" ("room_id", "pinned_at" desc, "id" desc) where "pinned_at" is not null`,
    },
    // A thread's replies by seq (issue 16).
    {
      name: "messages_thread_root_id_seq_index",
      expression: `create index "messages_thread_root_id_seq_index" on "messages" ("thread_root_id", "seq") where "thread_root_id" is not null`,
    },
    // Mention counts and ListMentions: a room's @room / @here messages by seq.
    {
      name: "messages_room_id_seq_broadcast_index",
      expression: `create index "messages_room_id_seq_broadcast_index" on "messages" ("room_id", "seq") where "mention_broadcast" > 0`,
    },
    // Search (issue 17): words, substrings, and a room's messages with a link.
    { name: "messages_search_vector_index", expression: `create index "messages_search_vector_index" on "messages" using gin ("search_vector")` },
    { name: "messages_body_trgm_index", expression: `create index "messages_body_trgm_index" on "messages" using gin ("body" gin_trgm_ops)` },
    {
      name: "messages_room_id_created_at_link_index",
      expression: `create index "messages_room_id_created_at_link_index" on "messages" ("room_id", "created_at" desc, "id" desc) where "has_link"`,
    },
    // Search by date (before:/after:/on:): a room's messages by time (bench/RESULTS.md "search": a
    // date alone rechecked every message of the rooms without it).
    {
      name: "messages_room_id_created_at_index",
      expression: `create index "messages_room_id_created_at_index" on "messages" ("room_id", "created_at" desc, "id" desc)`,
    },
  ],
});
export type Message = InferEntity<typeof Message>;

export const MessageVersion = defineEntity({
  name: "MessageVersion",
  tableName: "message_versions",
  properties: {
    messageId: p.uuid().primary(),
    // 1 is the text as first sent; the current text lives in messages.
    version: p.integer().primary(),
    // Emptied when the message is deleted.
    body: p.text(),
    // When this text was written (sent or edited).
    createdAt: p.datetime(),
  },
});
export type MessageVersion = InferEntity<typeof MessageVersion>;

/** One row per room with messages; its row lock serialises the senders and changers of a room. */
export const RoomHead = defineEntity({
  name: "RoomHead",
  tableName: "room_heads",
  properties: {
    roomId: p.uuid().primary(),
    lastSeq: p.bigint(),
    // The message lane's newest position: every message change takes the next one.
    lastChange: p.bigint(),
    lastActivityAt: p.datetime(),
  },
});
export type RoomHead = InferEntity<typeof RoomHead>;

// --- reactions ---
/** One person's reaction with one emoji to one message (the primary key makes it once). */
export const MessageReaction = defineEntity({
  name: "MessageReaction",
  tableName: "message_reactions",
  properties: {
    messageId: p.uuid().primary(),
    emoji: p.string().length(64).primary(),
    userId: p.uuid().primary(),
    createdAt: p.datetime(),
  },
});
export type MessageReaction = InferEntity<typeof MessageReaction>;

// --- threads (issue 16) ---
/** Who follows which thread, and how far they have read it (a row stays after an unfollow, with its marker). */
export const ThreadFollow = defineEntity({
  name: "ThreadFollow",
  tableName: "thread_follows",
  properties: {
    userId: p.uuid().primary(),
    rootId: p.uuid().primary(),
    roomId: p.uuid(),
    following: p.boolean(),
    lastReadSeq: p.bigint(),
    updatedAt: p.datetime(),
  },
  indexes: [
    // ListThreads and RoomStats.unread_thread_count: a user's followed threads per room.
    {
      name: "thread_follows_user_id_room_id_index",
      expression: `create index "thread_follows_user_id_room_id_index" on "thread_follows" ("user_id", "room_id") where "following"`,
    },
  ],
});
export type ThreadFollow = InferEntity<typeof ThreadFollow>;


// --- mentions (issue 16) ---
/**
 * One member mentioned by @username in one message (kept while the message is not deleted; an edit
 * replaces its rows). What a notifier needs: "unread mentions of user U" is a range scan of
 * (user_id, room_id, seq) from U's read marker in each room.
 */
export const MessageMention = defineEntity({
  name: "MessageMention",
  tableName: "message_mentions",
  properties: {
    messageId: p.uuid().primary(),
    userId: p.uuid().primary(),
    roomId: p.uuid(),
    seq: p.bigint(),
  },
  indexes: [{ name: "message_mentions_user_id_room_id_seq_index", properties: ["userId", "roomId", "seq"] }],
});
export type MessageMention = InferEntity<typeof MessageMention>;

// --- files (issue 19; Migration20261204180000_files) ---
/**
 * A file uploaded to a room: the bytes live in the FileStorage ("files/<id>", "thumbnails/<id>"),
 * this row says who may read them. Unattached (message_id null) until SendMessage takes it, in
 * the transaction that stores the message; deleted_at makes it unreadable at once (its message
 * was deleted, or its upload withdrawn) and purge_after is when the sweeper removes row and bytes.
 */
export const StoredFile = defineEntity({
  name: "StoredFile",
  tableName: "files",
  properties: {
    id: p.uuid().primary(),
    roomId: p.uuid(),
    uploaderId: p.uuid(),
    messageId: p.uuid().nullable(),
    // Its place among the message's attachments (the order given at send).
    position: p.smallint().default(0),
    name: p.text(),
    size: p.bigint(),
    mediaType: p.text(),
    // FileDisplay (1 image, 2 video, 3 audio, 4 download).
    display: p.smallint(),
    width: p.integer().default(0),
    height: p.integer().default(0),
    animated: p.boolean().default(false),
    hasThumbnail: p.boolean().default(false),
    thumbnailWidth: p.integer().default(0),
    thumbnailHeight: p.integer().default(0),
    thumbnailSize: p.bigint().default(0),
    thumbnailSha256: p.text().default(""),
    sha256: p.text(),
    createdAt: p.datetime(),
    attachedAt: p.datetime().nullable(),
    deletedAt: p.datetime().nullable(),
    purgeAfter: p.datetime().nullable(),
  },
  indexes: [
    // A message's attachments, in order (every page of history reads them).
    {
      name: "files_message_id_index",
      expression: `create index "files_message_id_index" on "files" ("message_id", "position") where "message_id" is not null`,
    },
    // ListRoomFiles: a room's attached, readable files, newest first.
    {
      name: "files_room_id_created_at_index",
      expression: `create index "files_room_id_created_at_index" on "files" ("room_id", "created_at" desc, "id" desc) where "message_id" is not null and "deleted_at" is null`,
    },
    // The quota: a user's bytes.
    { name: "files_uploader_id_index", properties: ["uploaderId"] },
    // The sweeper: files due for removal, and uploads no message took.
    { name: "files_purge_after_index", expression: `create index "files_purge_after_index" on "files" ("purge_after") where "purge_after" is not null` },
    {
      name: "files_unattached_created_at_index",
      expression: `create index "files_unattached_created_at_index" on "files" ("created_at") where "message_id" is null`,
    },
  ],
});
export type StoredFile = InferEntity<typeof StoredFile>;

/** Secrets the service makes once and keeps (the files' URL-signing key), shared by every replica. */
export const ServiceSecret = defineEntity({
  name: "ServiceSecret",
  tableName: "service_secrets",
  properties: {
    name: p.string().length(64).primary(),
    value: p.text(),
  },
});
export type ServiceSecret = InferEntity<typeof ServiceSecret>;

export const entities = [Message, MessageVersion, RoomHead, MessageReaction, ThreadFollow, MessageMention, StoredFile, ServiceSecret, ...linkPreviewEntities];
