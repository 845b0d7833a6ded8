// MessageService: sends with per-room gapless seq and idempotent retries,
// history pages by seq, edits with kept versions, tombstones, unread counts.
import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  asUser,
  fail,
  publishCommitted,
  requireUserId,
  toTimestamp,
  validate,
  type Broker,
  type CallContext,
  type EventPayload,
  type Logger,
  type ServiceHandlers,
} from "@parley/kit";
import type {
  AddReactionRequest,
  ListNewMessagesRequest,
  ListRoomHeadsRequest,
  ListThreadFollowersRequest,
  RemoveReactionRequest,
  DeleteMessageRequest,
  EditMessageRequest,
  GetRoomStatsRequest,
  ListChangesRequest,
  ListMessagesRequest,
  ListMentionsRequest,
  ListPinsRequest,
  ListMessageVersionsRequest,
  PinMessageRequest,
  UnpinMessageRequest,
  MarkReadRequest,
  MessageSchema,
  GetThreadRequest,
  FollowThreadRequest,
  UnfollowThreadRequest,
  ListThreadsRequest,
  MarkThreadReadRequest,
  SearchMessagesRequest,
  ThreadSchema,
  MessageService,
  SendMessageRequest,
  RemoveLinkPreviewRequest,
} from "@parley/proto/message/v1/message_pb";
import { MentionBroadcast } from "@parley/proto/message/v1/message_pb";
import { BATCHES, PAGES } from "@parley/proto/rules";
import { fields } from "@parley/proto/rules/zod";
import { z } from "zod";
import type { MessageDb } from "./db.js";
import type { Message } from "./entities.js";
import {
  DuplicateClientMsgId,
  MessageGone,
  type Change,
  type FollowState,
  type Mentions,
  type MessageRepository,
  type ReactionRow,
} from "./repositories.js";
import { requireEmoji } from "./emoji.js";
import { MentionResolver, type UserClient } from "./mentions.js";
import { RoomGate, type RoomAccess, type RoomClient } from "./room-access.js";
import { MessageFeed } from "./feed.js";
import { MessageSearch } from "./search.js";
import { decodeTimeToken, encodeTimeToken } from "./page-token.js";
import { ATTACHMENTS_MAX, type FilesConfig } from "./files/config.js";
import { toFile } from "./files/to-file.js";
import { StoredFile as StoredFileEntity } from "./entities.js";
import type { StoredFile } from "./entities.js";
import { FileRepository } from "./files/repository.js";
import { normalizeLink } from "./previews/links.js";
import { LinkPreviewRepository, type StoredPreview } from "./previews/repository.js";
import type { LinkPreviewWorker } from "./previews/worker.js";

export interface MessageDeps {
  db: MessageDb;
  /** Files (issue 19): the storage and limits of FileService, and SendMessage's attachments. */
  files: FilesConfig;
  broker: Broker;
  /** The room service (GetMembership, MoveReadMarker; ListMyRooms for search). */
  rooms: RoomClient;
  /** The user service (ResolveLogin: @username mentions, search's from:). */
  users: UserClient;
  log: Logger;
  /** Link previews (issue 19, previews/worker.ts); absent when LINK_PREVIEWS=off. */
  linkPreviews?: LinkPreviewWorker;
}

const { body, clientMsgId, id: uuid, optionalId: optionalUuid } = fields;

// Keys are the proto field names, so errors name the field as callers spell it.
const sendRequest = z.object({
  room_id: uuid,
  body,
  file_ids: z
    .array(uuid)
    .max(ATTACHMENTS_MAX, `at most ${ATTACHMENTS_MAX} files`)
    .refine((ids) => new Set(ids).size === ids.length, "names a file twice"),
  client_msg_id: clientMsgId,
  reply_to_id: optionalUuid,
  thread_root_id: optionalUuid,
  also_send_to_room: z.boolean(),
});
/** With files the text may be empty (a picture alone). */
const sendFilesOnlyRequest = sendRequest.extend({ body: z.literal("") });
const editRequest = z.object({ message_id: uuid, body });
const removeLinkPreviewRequest = z.object({
  message_id: uuid,
  url: z.string().min(1, "must not be empty").max(2048, "at most 2048 characters"),
});
const STATS_MAX_ROOMS = BATCHES.roomStats;
const statsRequest = z.object({
  rooms: z
    .array(z.object({ room_id: uuid, last_read_seq: z.bigint().nonnegative("must not be negative") }))
    .max(STATS_MAX_ROOMS, `at most ${STATS_MAX_ROOMS} rooms`),
});

const markReadRequest = z.object({ room_id: uuid, seq: z.bigint().nonnegative("must not be negative") });

const { max: LIST_MAX, default: LIST_DEFAULT } = PAGES.messages;
const changesRequest = z.object({
  room_id: uuid,
  after: z.bigint().nonnegative("must not be negative"),
  after_seq: z.bigint().nonnegative("must not be negative").optional(),
  limit: z
    .number()
    .int()
    .min(0)
    .max(PAGES.changes.max, `must be 1-${PAGES.changes.max} (0 for ${PAGES.changes.default})`),
});

type MessageInit = MessageInitShape<typeof MessageSchema>;
type ThreadInit = MessageInitShape<typeof ThreadSchema>;

/** ListThreads and ListMentions: the caller's rooms, as GetRoomStats takes them. */
const roomIdsRequest = z.object({ room_ids: z.array(uuid).max(STATS_MAX_ROOMS, `at most ${STATS_MAX_ROOMS} rooms`) });

export class MessageServiceImpl implements ServiceHandlers<typeof MessageService> {
  private readonly gate: RoomGate;
  private readonly mentions: MentionResolver;
  private readonly searcher: MessageSearch;
  private readonly feed: MessageFeed;

  constructor(private readonly deps: MessageDeps) {
    this.gate = new RoomGate(deps.rooms);
    this.mentions = new MentionResolver(deps.users, this.gate);
    this.searcher = new MessageSearch(deps, (rows) => withReactions(deps.db.fork().messages, rows));
    this.feed = new MessageFeed(deps.db, (rows) => withReactions(deps.db.fork().messages, rows));
  }

  // --- the notification worker's feed (issue 18, feed.ts; the notify process only: server.ts) ---
  listRoomHeads(request: ListRoomHeadsRequest, ctx: CallContext) {
    return this.feed.listRoomHeads(request, ctx);
  }

  listNewMessages(request: ListNewMessagesRequest, ctx: CallContext) {
    return this.feed.listNewMessages(request, ctx);
  }

  listThreadFollowers(request: ListThreadFollowersRequest, ctx: CallContext) {
    return this.feed.listThreadFollowers(request, ctx);
  }

  /** Issue 17: search the messages of the caller's rooms (services/message/src/search.ts, docs/search.md). */
  searchMessages(request: SearchMessagesRequest, ctx: CallContext) {
    return this.searcher.search(request, ctx);
  }

  async sendMessage(request: SendMessageRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages } = this.deps.db.fork();
    const withFilesOnly = request.fileIds.length > 0 && request.body.trim() === "";
    const input = validate(withFilesOnly ? sendFilesOnlyRequest : sendRequest, {
      room_id: request.roomId,
      body: withFilesOnly ? "" : request.body,
      file_ids: request.fileIds,
      client_msg_id: request.clientMsgId,
      reply_to_id: request.replyToId,
      thread_root_id: request.threadRootId,
      also_send_to_room: request.alsoSendToRoom,
    });
    if (input.also_send_to_room && !input.thread_root_id) {
      throw fail.invalidArgument("also_send_to_room", "is only for a thread reply (with thread_root_id)");
    }
    const access = await this.gate.requireMember(input.room_id, caller);
    const clientMsgId = input.client_msg_id || randomUUID();
    if (access.archived) {
      // A retry of a message sent before the room was archived still gets its original.
      const earlier = input.client_msg_id ? await messages.findByClientMsgId(caller, clientMsgId) : null;
      if (earlier) return this.duplicateOf(messages, earlier, input.room_id, input.body);
      throw fail.failedPrecondition("the room is archived (read-only)");
    }
    if (input.reply_to_id) {
      const parent = await messages.findById(input.reply_to_id);
      if (!parent || parent.roomId !== input.room_id) {
        throw fail.invalidArgument("reply_to_id", "must be a message of the same room");
      }
    }
    // A reply to a reply is a reply in its root's thread: threads do not nest.
    let rootId: string | null = null;
    if (input.thread_root_id) {
      const target = await messages.findById(input.thread_root_id);
      const root = target?.threadRootId ? await messages.findById(target.threadRootId) : target;
      if (!root || root.roomId !== input.room_id) {
        throw fail.invalidArgument("thread_root_id", "must be a message of the same room");
      }
      if (root.deletedAt) throw fail.failedPrecondition("the thread's root message is deleted");
      rootId = root.id;
    }
    const mentions = await this.resolveMentions(input.body, input.room_id, caller, access, false);
    const draft = {
      mentions,
      id: randomUUID(),
      roomId: input.room_id,
      senderId: caller,
      body: input.body,
      clientMsgId,
      replyToId: input.reply_to_id || null,
      threadRootId: rootId,
      alsoSentToRoom: rootId != null && input.also_send_to_room,
    };
    const fileIds = input.file_ids;
    let message: Message;
    let root: Message | null = null;
    let attachments: StoredFile[] = [];
    try {
      if (rootId) {
        ({ message, root, attachments } = await this.appendReply(draft, rootId, fileIds));
      } else if (fileIds.length > 0 || this.wantsPreviews(draft.body)) {
        // The files are taken in the transaction that stores the message: both or neither. So is
        // a link preview request (issue 19): a crash after the commit leaves it for the sweep.
        ({ message, attachments } = await this.deps.db.transactional(async (tx) => {
          const message = await tx.messages.append(draft);
          if (this.wantsPreviews(draft.body)) await tx.previews.markWanted(message.id);
          return { message, attachments: fileIds.length > 0 ? await attachFiles(tx.files, message, fileIds) : [] };
        }));
      } else {
        message = await messages.append(draft);
      }
    } catch (error) {
      // A retry (sequential or racing its original): the statement rolled back, so no seq was
      // used; the original is committed. Retries are rare, so they, not every send, pay the lookup.
      if (!(error instanceof DuplicateClientMsgId)) throw error;
      const original = await messages.findByClientMsgId(caller, clientMsgId);
      if (!original) throw error;
      return this.duplicateOf(messages, original, input.room_id, input.body);
    }
    const stored = toMessage(message, [], attachments);
    // Also on the firehose: the notification worker hears every room's new messages there.
    this.publish(ctx, message.roomId, { case: "messageCreated", value: { message: stored } }, stored.change, true);
    // The root's new summary took the position after the reply's: it goes out after it, as edited.
    if (root) await this.publishEdited(ctx, messages, root);
    if (this.wantsPreviews(message.body)) this.deps.linkPreviews?.enqueue(message.id);
    return { message: stored, duplicate: false };
  }

  /**
   * Stores a thread reply and its root's new summary in one transaction (the root's row lock first,
   * then the room head's, the order every change of a message takes): the reply takes the room's
   * next seq and position, the root the position after. Its sender follows the thread with it read;
   * the root's author follows from the first reply unless they unfollowed before.
   */
  private async appendReply(
    draft: NewMessageDraft,
    rootId: string,
    fileIds: readonly string[],
  ): Promise<{ message: Message; root: Message | null; attachments: StoredFile[] }> {
    return this.deps.db.transactional(async (tx) => {
      const root = await tx.messages.lockForThread(rootId);
      if (root.deletedAt) throw fail.failedPrecondition("the thread's root message is deleted");
      const message = await tx.messages.append(draft);
      const attachments = fileIds.length > 0 ? await attachFiles(tx.files, message, fileIds) : [];
      if (this.wantsPreviews(draft.body)) await tx.previews.markWanted(message.id);
      const changed = await tx.messages.refreshThreadSummary(root);
      await tx.threads.follow(draft.senderId, rootId, draft.roomId, BigInt(message.seq));
      await tx.threads.markRead(draft.senderId, rootId, BigInt(message.seq));
      if (root.senderId !== draft.senderId) await tx.threads.followUnlessChosen(root.senderId, rootId, draft.roomId);
      // Those it names by @username follow it (again, if they had unfollowed): being called on is a reason to.
      for (const userId of draft.mentions?.userIds ?? []) {
        if (userId !== draft.senderId) await tx.threads.follow(userId, rootId, draft.roomId);
      }
      return { message, root: changed ? root : null, attachments };
    });
  }

  async listMessages(request: ListMessagesRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages, heads } = this.deps.db.fork();
    const { room_id: roomId, thread_root_id: threadId } = validate(z.object({ room_id: uuid, thread_root_id: optionalUuid }), {
      room_id: request.roomId,
      thread_root_id: request.threadRootId,
    });
    const limit = pageLimit(request.limit);
    const cursor = request.cursor;
    if (cursor.case !== undefined && cursor.value < 0n) throw fail.invalidArgument(snake(cursor.case), "must not be negative");
    await this.gate.requireMember(roomId, caller);
    // A thread of this room only (another room's message is as unknown as a random id).
    const threadRootId = threadId || undefined;
    if (threadRootId) {
      const root = await messages.findById(threadRootId);
      if (!root || root.roomId !== roomId || root.threadRootId) throw fail.notFound("thread not found");
    }

    // Every message up to the head is committed (its seq was taken in its own
    // transaction), so bounding reads by the head gives a consistent, gapless page.
    const { lastSeq: head, lastChange } = await heads.head(roomId);
    const page = { messages: [] as Message[], hasOlder: false, hasNewer: false };
    switch (cursor.case) {
      case undefined:
      case "beforeSeq": {
        const below = cursor.case === undefined ? head + 1n : min(cursor.value, head + 1n);
        const rows = await messages.older(roomId, below, limit + 1, threadRootId);
        page.hasOlder = rows.length > limit;
        page.messages = rows.slice(0, limit).reverse();
        page.hasNewer = head >= max(below, 1n);
        break;
      }
      case "afterSeq": {
        const from = cursor.value + 1n;
        const rows = await messages.newer(roomId, from, head, limit + 1, threadRootId);
        page.hasNewer = rows.length > limit;
        page.messages = rows.slice(0, limit);
        page.hasOlder = head >= 1n && from > 1n;
        break;
      }
      case "aroundSeq": {
        const olderCount = Math.floor(limit / 2);
        const newerCount = limit - olderCount;
        const pivot = cursor.value;
        const [older, newer] = await Promise.all([
          messages.older(roomId, min(pivot, head + 1n), olderCount + 1, threadRootId),
          messages.newer(roomId, pivot, head, newerCount + 1, threadRootId),
        ]);
        page.hasOlder = older.length > olderCount;
        page.hasNewer = newer.length > newerCount;
        page.messages = [...older.slice(0, olderCount).reverse(), ...newer.slice(0, newerCount)];
        break;
      }
    }
    return { messages: await withReactions(messages, page.messages), hasOlder: page.hasOlder, hasNewer: page.hasNewer, lastSeq: head, lastChange };
  }

  /**
   * The message lane of the room's stream after a position: each message changed since, once, in
   * its current state, in the order of its latest change. Bounded by the head read first: every
   * change up to it is committed (its position was taken under the head's row lock), so a page
   * never skips one that commits later with a lower position.
   */
  async listChanges(request: ListChangesRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages, heads } = this.deps.db.fork();
    const input = validate(changesRequest, {
      room_id: request.roomId,
      after: request.after,
      after_seq: request.afterSeq,
      limit: request.limit,
    });
    const limit = input.limit || PAGES.changes.default;
    await this.gate.requireMember(input.room_id, caller);
    const { lastSeq, lastChange } = await heads.head(input.room_id);
    // A seq beyond the head claims messages that do not exist: it resumes from the head.
    const after = input.after_seq === undefined ? input.after : await messages.changeBeforeSeq(input.room_id, input.after_seq, lastChange);
    if (after > lastChange) {
      throw fail.outOfRange(
        `after: position ${after} is ahead of the room's stream (${lastChange}): its history was restored from an older backup; drop what you hold of this room and load it afresh`,
      );
    }
    const rows = await messages.changes(input.room_id, after, lastChange, limit + 1);
    const hasMore = rows.length > limit;
    const page = rows.slice(0, limit);
    return {
      messages: await withReactions(messages, page),
      hasMore,
      lastChange: hasMore ? BigInt(page.at(-1)!.change) : lastChange,
      lastSeq,
    };
  }

  async editMessage(request: EditMessageRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages } = this.deps.db.fork();
    const input = validate(editRequest, { message_id: request.messageId, body: request.body });
    const { message, access } = await this.visibleMessage(messages, input.message_id, caller);
    if (message.senderId !== caller) throw fail.permissionDenied("only the sender can edit a message");
    if (message.deletedAt) throw fail.failedPrecondition("the message is deleted");
    if (access.archived) throw fail.failedPrecondition("the room is archived (read-only)");
    const mentions = await this.resolveMentions(input.body, message.roomId, caller, access, message.mentionBroadcast > 0);
    const previewer = this.deps.linkPreviews;
    const linksChanged = previewer !== undefined && previewer.linksOf(input.body).join("\n") !== previewer.linksOf(message.body).join("\n");
    let change: Change;
    try {
      change = await this.deps.db.transactional(async (tx) => {
        const edited = await tx.messages.edit(message.id, input.body, new Date(), mentions);
        // Link previews (issue 19): other links than before are fetched (and gone ones dropped) after the commit.
        if (edited.changed && linksChanged) await tx.previews.markWanted(message.id);
        return edited;
      });
    } catch (error) {
      if (error instanceof MessageGone) throw fail.failedPrecondition("the message is deleted");
      throw error;
    }
    const edited = (await withReactions(messages, [change.message]))[0]!;
    if (change.changed) this.publish(ctx, edited.roomId!, { case: "messageEdited", value: { message: edited } }, edited.change);
    if (change.changed && linksChanged) previewer?.enqueue(message.id);
    return { message: edited };
  }

  async deleteMessage(request: DeleteMessageRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages } = this.deps.db.fork();
    const { message_id: messageId } = validate(z.object({ message_id: uuid }), { message_id: request.messageId });
    const { message, access } = await this.visibleMessage(messages, messageId, caller);
    if (message.senderId !== caller && !access.moderator) {
      throw fail.permissionDenied("only the sender or a room admin can delete a message");
    }
    if (message.deletedAt) return { message: (await withReactions(messages, [message]))[0]! };
    if (access.archived) throw fail.failedPrecondition("the room is archived (read-only)");
    // A reply's delete changes its root's summary: the root's lock first (as a reply's send takes it).
    const { change, root } = await this.deps.db.transactional(async (tx) => {
      const root = message.threadRootId ? await tx.messages.lockForThread(message.threadRootId) : null;
      const now = new Date();
      const change = await tx.messages.tombstone(message.id, now);
      // Its files are unreadable from this commit on; their bytes go after the grace period (the sweeper).
      if (change.changed) await tx.files.releaseOfMessage(message.id, now, new Date(now.getTime() + this.deps.files.deleteGraceSeconds * 1000));
      // Its link previews go with its text (their images, once no message shows them, with the previews' sweep).
      if (change.changed) await tx.previews.dropPreviews(message.id);
      const rootChanged = root && change.changed ? await tx.messages.refreshThreadSummary(root) : false;
      return { change, root: rootChanged ? root : null };
    });
    const tombstone = (await withReactions(messages, [change.message]))[0]!;
    if (change.changed) this.publish(ctx, tombstone.roomId!, { case: "messageDeleted", value: { message: tombstone } }, tombstone.change);
    if (root) await this.publishEdited(ctx, messages, root);
    return { message: tombstone };
  }

  async getRoomStats(request: GetRoomStatsRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages } = this.deps.db.fork();
    const input = validate(statsRequest, {
      rooms: request.rooms.map((r) => ({ room_id: r.roomId, last_read_seq: r.lastReadSeq })),
    });
    const stats = await messages.stats(
      input.rooms.map((r) => ({ roomId: r.room_id, lastReadSeq: r.last_read_seq })),
      caller,
    );
    return {
      stats: stats.map((s) => ({
        roomId: s.roomId,
        lastSeq: s.lastSeq,
        lastChange: s.lastChange,
        unreadCount: s.unreadCount,
        unreadThreadCount: s.unreadThreadCount,
        mentionCount: s.mentionCount,
        lastActivityTime: s.lastActivityAt ? toTimestamp(s.lastActivityAt) : undefined,
      })),
    };
  }

  /**
   * Capped at the room's newest message, so that messages sent later still count as unread; the
   * room service stores the marker (never backwards) and answers for membership: NOT_FOUND for a
   * room the caller may not see, FAILED_PRECONDITION for a public room they are not in.
   */
  async markRead(request: MarkReadRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { heads } = this.deps.db.fork();
    const input = validate(markReadRequest, { room_id: request.roomId, seq: request.seq });
    // Read for every caller alike (members or not, room or none): the room service's answer decides.
    const { lastSeq: head } = await heads.head(input.room_id);
    const { lastReadSeq } = await this.deps.rooms.moveReadMarker({ roomId: input.room_id, seq: min(input.seq, head) }, asUser(caller));
    return { lastReadSeq };
  }

  // --- reactions ---
  async addReaction(request: AddReactionRequest, ctx: CallContext) {
    return { message: await this.react(request, ctx, true) };
  }

  async removeReaction(request: RemoveReactionRequest, ctx: CallContext) {
    return { message: await this.react(request, ctx, false) };
  }

  /**
   * Membership first (NOT_FOUND alike for a missing message and a room the caller is not in), then
   * the emoji; a deleted message or an archived room is FAILED_PRECONDITION. A change (not a repeat)
   * bumps the message's stream position and goes out as messageEdited, with every reaction.
   */
  private async react(request: AddReactionRequest | RemoveReactionRequest, ctx: CallContext, add: boolean) {
    const caller = requireUserId(ctx);
    const { messages } = this.deps.db.fork();
    const { message_id: messageId } = validate(z.object({ message_id: uuid }), { message_id: request.messageId });
    const { message, access } = await this.visibleMessage(messages, messageId, caller);
    const emoji = requireEmoji(request.emoji);
    if (message.deletedAt) throw fail.failedPrecondition("the message is deleted");
    if (access.archived) throw fail.failedPrecondition("the room is archived (read-only)");
    let change: Change;
    try {
      change = await this.deps.db.transactional((tx) => tx.messages.react(message.id, caller, emoji, add, new Date()));
    } catch (error) {
      if (error instanceof MessageGone) throw fail.failedPrecondition("the message is deleted");
      throw error;
    }
    const [reacted] = await withReactions(messages, [change.message]);
    if (change.changed) this.publish(ctx, reacted!.roomId!, { case: "messageEdited", value: { message: reacted } }, reacted!.change);
    return reacted!;
  }

  // --- pins (issue 16) ---

  async pinMessage(request: PinMessageRequest, ctx: CallContext) {
    return { message: await this.setPin(request.messageId, true, ctx) };
  }

  async unpinMessage(request: UnpinMessageRequest, ctx: CallContext) {
    return { message: await this.setPin(request.messageId, false, ctx) };
  }

  /** Newest pin first; the page token is the last pin's (time, id), opaque to callers. */
  async listPins(request: ListPinsRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages } = this.deps.db.fork();
    const { room_id: roomId } = validate(z.object({ room_id: uuid }), { room_id: request.roomId });
    const limit = pageLimit(request.limit);
    const token = request.pageToken ? decodeTimeToken(request.pageToken) : null;
    await this.gate.requireMember(roomId, caller);
    const rows = await messages.pins(roomId, token && { pinnedAt: token.time, id: token.id }, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      messages: await withReactions(messages, page),
      nextPageToken: rows.length > limit && last ? encodeTimeToken(last.pinnedAt!, last.id) : "",
    };
  }

  async listMessageVersions(request: ListMessageVersionsRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages } = this.deps.db.fork();
    const input = validate(z.object({ message_id: uuid }), { message_id: request.messageId });
    const { message } = await this.visibleMessage(messages, input.message_id, caller);
    // A deleted message keeps no text, in any version: its history is gone with it.
    if (message.deletedAt) return { versions: [] };
    const rows = await messages.versions(message.id);
    return {
      versions: rows.map((v, i) => ({
        version: v.version,
        body: v.body,
        createTime: toTimestamp(v.createdAt),
        // Replaced by the next version's text: the newest earlier one by the current text.
        replaceTime: toTimestamp(i === 0 ? (message.editedAt ?? v.createdAt) : rows[i - 1]!.createdAt),
      })),
    };
  }

  // --- link previews (issue 19, previews/) ---

  /**
   * Takes a preview off a message for good (the URL is kept in removed_link_previews: an edit does
   * not bring it back). The sender only; NOT_FOUND alike for a missing message and a room the
   * caller is not in. A change of the message: the room's next position, out as edited.
   */
  async removeLinkPreview(request: RemoveLinkPreviewRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages } = this.deps.db.fork();
    const input = validate(removeLinkPreviewRequest, { message_id: request.messageId, url: request.url });
    const url = normalizeLink(input.url.trim());
    if (!url) throw fail.invalidArgument("url", "must be an http or https URL");
    const { message, access } = await this.visibleMessage(messages, input.message_id, caller);
    if (message.senderId !== caller) throw fail.permissionDenied("only the sender can remove a link preview");
    if (message.deletedAt) throw fail.failedPrecondition("the message is deleted");
    if (access.archived) throw fail.failedPrecondition("the room is archived (read-only)");
    let change: Change;
    try {
      change = await this.deps.db.transactional(async (tx) => {
        await tx.previews.removeUrl(message.id, url);
        return tx.messages.changeWith(message.id, async () => {
          const current = (await tx.previews.previewsOf([message.id])).get(message.id) ?? [];
          return tx.previews.replacePreviews(message.id, current.filter((p) => p.url !== url));
        });
      });
    } catch (error) {
      if (error instanceof MessageGone) throw fail.failedPrecondition("the message is deleted");
      throw error;
    }
    const [stored] = await withReactions(messages, [change.message]);
    if (change.changed) this.publish(ctx, stored!.roomId!, { case: "messageEdited", value: { message: stored } }, stored!.change);
    return { message: stored };
  }

  /** Whether a body asks for previews: link previews on and an http(s) link outside code. */
  private wantsPreviews(body: string): boolean {
    return (this.deps.linkPreviews?.linksOf(body).length ?? 0) > 0;
  }

  private async setPin(messageId: string, pin: boolean, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages } = this.deps.db.fork();
    const input = validate(z.object({ message_id: uuid }), { message_id: messageId });
    const { message, access } = await this.visibleMessage(messages, input.message_id, caller);
    if (!access.canPin) throw fail.permissionDenied("only the room's admins can pin messages in this room");
    if (message.deletedAt) throw fail.failedPrecondition("the message is deleted");
    if (access.archived) throw fail.failedPrecondition("the room is archived (read-only)");
    let change: Change;
    try {
      change = await this.deps.db.transactional((tx) => tx.messages.setPin(message.id, pin ? caller : null, new Date()));
    } catch (error) {
      if (error instanceof MessageGone) throw fail.failedPrecondition("the message is deleted");
      throw error;
    }
    const [stored] = await withReactions(messages, [change.message]);
    // A pin is a change of the message's state: it travels as messageEdited on the message lane.
    if (change.changed) this.publish(ctx, stored!.roomId!, { case: "messageEdited", value: { message: stored } }, stored!.change);
    return stored!;
  }

  // --- threads (issue 16) ---

  async getThread(request: GetThreadRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages, threads } = this.deps.db.fork();
    const root = await this.visibleRoot(messages, request.rootId, caller);
    return { thread: await threadOf(messages, root, await threads.state(caller, root.id)) };
  }

  /** A new follower has read the thread so far: only replies from now on are unread to them. */
  async followThread(request: FollowThreadRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages, threads } = this.deps.db.fork();
    const root = await this.visibleRoot(messages, request.rootId, caller);
    await threads.follow(caller, root.id, root.roomId, BigInt(root.lastReplySeq));
    return { thread: await threadOf(messages, root, await threads.state(caller, root.id)) };
  }

  async unfollowThread(request: UnfollowThreadRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages, threads } = this.deps.db.fork();
    const root = await this.visibleRoot(messages, request.rootId, caller);
    await threads.unfollow(caller, root.id, root.roomId, BigInt(root.lastReplySeq));
    return { thread: await threadOf(messages, root, await threads.state(caller, root.id)) };
  }

  /** Newest reply first across the given rooms; the page token is the last thread's (time, id), opaque to callers. */
  async listThreads(request: ListThreadsRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages, threads } = this.deps.db.fork();
    const input = validate(roomIdsRequest, { room_ids: request.roomIds });
    const limit = pageLimit(request.limit);
    const after = request.pageToken ? decodeTimeToken(request.pageToken) : null;
    const rows = await threads.followed(caller, input.room_ids, request.unreadOnly, after && { sortAt: after.time, id: after.id }, limit + 1);
    const page = rows.slice(0, limit);
    const roots = await withReactions(messages, page.map((t) => t.root));
    const last = page.at(-1);
    return {
      threads: page.map(
        (t, i): ThreadInit => ({ root: roots[i], following: true, lastReadSeq: t.lastReadSeq, unreadCount: t.unreadCount }),
      ),
      nextPageToken: rows.length > limit && last ? encodeTimeToken(last.sortAt, last.root.id) : "",
    };
  }

  /** Capped at the thread's newest reply (0: up to it), never backwards; only for a thread the caller has a marker in. */
  async markThreadRead(request: MarkThreadReadRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages, threads } = this.deps.db.fork();
    if (request.seq < 0n) throw fail.invalidArgument("seq", "must not be negative");
    const root = await this.visibleRoot(messages, request.rootId, caller);
    const head = BigInt(root.lastReplySeq);
    await threads.markRead(caller, root.id, request.seq === 0n ? head : min(request.seq, head));
    return { thread: await threadOf(messages, root, await threads.state(caller, root.id)) };
  }

  /** A thread's root the caller may see: NOT_FOUND alike for a missing message, a reply, and a room the caller is not in. */
  private async visibleRoot(messages: MessageRepository, rootId: string, caller: string): Promise<Message> {
    const input = validate(z.object({ root_id: uuid }), { root_id: rootId });
    const root = await messages.findById(input.root_id);
    if (!root || root.threadRootId) throw fail.notFound("thread not found");
    await this.gate.requireMember(root.roomId, caller, "thread not found");
    return root;
  }

  /** A message changed as a side effect (a root's summary): out as edited, at its position. */
  private async publishEdited(ctx: CallContext, messages: MessageRepository, message: Message): Promise<void> {
    const [edited] = await withReactions(messages, [message]);
    this.publish(ctx, edited!.roomId!, { case: "messageEdited", value: { message: edited } }, edited!.change);
  }

  // --- mentions (issue 16) ---

  /**
   * Newest first across the rooms given (the caller's rooms, from the edge as for GetRoomStats);
   * the page token is the last message's (time, id).
   */
  async listMentions(request: ListMentionsRequest, ctx: CallContext) {
    const caller = requireUserId(ctx);
    const { messages } = this.deps.db.fork();
    const { room_ids: roomIds } = validate(roomIdsRequest, { room_ids: request.roomIds });
    const limit = pageLimit(request.limit);
    const after = request.pageToken ? decodeTimeToken(request.pageToken) : null;
    const rows = await messages.mentionsOf(caller, [...new Set(roomIds)], after && { at: after.time, id: after.id }, limit + 1);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      messages: await withReactions(messages, page),
      nextPageToken: rows.length > limit && last ? encodeTimeToken(last.createdAt, last.id) : "",
    };
  }

  /**
   * Whom the body mentions; PERMISSION_DENIED for @room / @here from someone the room does not let
   * use them (an edit that keeps the message's broadcast is let through: it was allowed when sent).
   */
  private async resolveMentions(body: string, roomId: string, caller: string, access: RoomAccess, hadBroadcast: boolean): Promise<Mentions> {
    const mentions = await this.mentions.resolve(body, roomId, caller);
    if (mentions.broadcast > 0 && !access.canMentionEveryone && !hadBroadcast) {
      throw fail.permissionDenied("only the room's admins can use @room and @here in this room");
    }
    return mentions;
  }

  /** The message and the caller's access to its room; NOT_FOUND alike for a missing message and for a non-member. */
  private async visibleMessage(messages: MessageRepository, messageId: string, caller: string) {
    const message = await messages.findById(messageId);
    if (!message) throw fail.notFound("message not found");
    const access = await this.gate.requireMember(message.roomId, caller, "message not found");
    return { message, access };
  }

  /** The answer to a retried send: the original, if the retry really is the same message. */
  private async duplicateOf(messages: MessageRepository, original: Message, roomId: string, body: string) {
    const sentBody = await messages.sentBody(original);
    if (original.roomId !== roomId || (sentBody !== undefined && sentBody !== body)) {
      throw fail.alreadyExists("client_msg_id", "client_msg_id: already used for a different message");
    }
    return { message: (await withReactions(messages, [original]))[0]!, duplicate: true };
  }

  /** After the commit: a lost event is found by seq, so it must never fail the call (publishCommitted). */
  private publish(ctx: CallContext, roomId: string, payload: EventPayload, change?: bigint, firehose = false): void {
    publishCommitted(this.deps.broker, ctx.log, { roomId, payload, change, firehose });
  }
}

/**
 * Messages with their reactions, attachments and link previews (one query each for the lot), as
 * every answer and event gives them. The files and previews repositories share the messages' fork.
 */
export async function withReactions(messages: MessageRepository, rows: readonly Message[]) {
  const ids = rows.map((m) => m.id);
  const files = new FileRepository(messages.getEntityManager(), StoredFileEntity);
  // One after the other: the same statements in the same order for the same answer (search's
  // "a hidden room costs what a missing one does" compares them).
  const reactions = await messages.reactionsOf(ids);
  const attachments = await files.ofMessages(ids);
  const previews = await new LinkPreviewRepository(messages.getEntityManager()).previewsOf(ids);
  return rows.map((m) => toMessage(m, reactions.get(m.id), attachments.get(m.id), previews.get(m.id)));
}

/** In the send's transaction: takes the files or throws INVALID_ARGUMENT naming the first it cannot (rolling the send back). */
async function attachFiles(files: FileRepository, message: Message, fileIds: readonly string[]): Promise<StoredFile[]> {
  const taken = await files.attach(message.id, fileIds, message.senderId, message.roomId, message.createdAt);
  if (taken.length < fileIds.length) {
    const missing = fileIds.find((id) => !taken.some((f) => f.id === id));
    throw fail.invalidArgument("file_ids", `${missing} is not a file you uploaded to this room that no message has taken`);
  }
  return taken;
}

export function toMessage(
  message: Message,
  reactions: readonly ReactionRow[] = [],
  attachments: readonly StoredFile[] = [],
  previews: readonly StoredPreview[] = [],
): MessageInit & { change: bigint } {
  return {
    // A deleted message's files are gone with its text.
    attachments: message.deletedAt ? [] : attachments.map(toFile),
    id: message.id,
    roomId: message.roomId,
    seq: BigInt(message.seq),
    change: BigInt(message.change),
    senderId: message.senderId,
    body: message.body,
    clientMsgId: message.clientMsgId,
    replyToId: message.replyToId ?? "",
    createTime: toTimestamp(message.createdAt),
    editTime: message.editedAt ? toTimestamp(message.editedAt) : undefined,
    deleted: message.deletedAt != null,
    deleteTime: message.deletedAt ? toTimestamp(message.deletedAt) : undefined,
    reactions: reactions.map((r) => ({ emoji: r.emoji, count: r.count, userIds: r.userIds })),
    pinTime: message.pinnedAt ? toTimestamp(message.pinnedAt) : undefined,
    pinnedById: message.pinnedById ?? "",
    mentionUserIds: message.deletedAt ? [] : [...(message.mentionUserIds ?? [])],
    mentionBroadcast: message.deletedAt ? MentionBroadcast.UNSPECIFIED : (message.mentionBroadcast as MentionBroadcast),
    threadRootId: message.threadRootId ?? "",
    alsoSentToRoom: message.alsoSentToRoom ?? false,
    // Link previews (issue 19): none once deleted.
    linkPreviews: message.deletedAt ? [] : previews.map((p) => ({ ...p })),
    thread:
      BigInt(message.lastReplySeq ?? 0) > 0n
        ? {
            replyCount: message.replyCount,
            lastReplyTime: message.lastReplyAt ? toTimestamp(message.lastReplyAt) : undefined,
            participantIds: [...(message.threadParticipantIds ?? [])],
            lastReplySeq: BigInt(message.lastReplySeq),
          }
        : undefined,
  };
}

type NewMessageDraft = Parameters<MessageRepository["append"]>[0];

/** A thread as the caller sees it: its root (with reactions) and their follow state. */
async function threadOf(messages: MessageRepository, root: Message, state: FollowState): Promise<ThreadInit> {
  const [message] = await withReactions(messages, [root]);
  return { root: message, following: state.following, lastReadSeq: state.lastReadSeq, unreadCount: state.unreadCount };
}

function pageLimit(limit: number): number {
  if (limit === 0) return LIST_DEFAULT;
  if (limit < 0 || limit > LIST_MAX) throw fail.invalidArgument("limit", `must be 1-${LIST_MAX} (0 for ${LIST_DEFAULT})`);
  return limit;
}

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
