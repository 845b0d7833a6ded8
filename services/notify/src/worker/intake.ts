// The worker's intake (issue 18): from the message service's new messages to claims in
// `deliveries`. Fed by the broker's firehose (topics.messages) and kept whole by the room's stream:
// a per-room cursor (the last seq taken in, in the database) turns a gap (an event lost on the
// broker, a restart) into a catch-up with ListNewMessages, and a sweep every NOTIFY_SWEEP_MS asks
// ListRoomHeads which rooms moved since the last sweep (minus a margin) and catches up those whose
// head is beyond the cursor. Claims are `insert ... on conflict do nothing` and cursors only move
// forward, so a replayed event, a restart or two replicas taking the same room in claim once.
import { asUser, topics, type Broker, type Logger, type Unsubscribe } from "@parley/kit";
import type { Message } from "@parley/proto/message/v1/message_pb";
import { MentionBroadcast } from "@parley/proto/message/v1/message_pb";
import { CHANNEL, REASON, channelsFor, reasonFor, type ReasonValue } from "@parley/proto/rules/notify";
import type { NotifyDb } from "../db.js";
import type { MessageClient, RoomClient } from "../service.js";
import type { Claim } from "./store.js";

/** Messages older than this when the worker first sees them are not notified (a first start on old rooms). */
export const STALE_MS = 24 * 3_600_000;
/** The sweep asks for rooms that moved since its last run minus this (clocks and commits in flight). */
export const SWEEP_MARGIN_MS = 60_000;
const SWEEP_POSITION = "sweep_since";
const PAGE = 200;

export interface IntakeDeps {
  db: NotifyDb;
  log: Logger;
  broker: Broker;
  rooms: RoomClient;
  messages: MessageClient;
  /** The clock of due times and quiet hours (tests move it). */
  now: () => Date;
  /** Whether the server sends email (SMTP_URL set). */
  email: boolean;
  sweepMs: number;
  /** Called after new claims were stored (wakes the dispatchers). */
  onClaimed?: () => void;
}

interface RoomInfo {
  direct: boolean;
  directMemberIds: string[];
}

const timeOf = (message: Message) =>
  message.createTime ? new Date(Number(message.createTime.seconds) * 1000 + Math.floor(message.createTime.nanos / 1e6)) : new Date(0);

export class Intake {
  private readonly queues = new Map<string, Promise<void>>();
  /** Rooms asked again while being caught up: caught up once more when the current run ends. */
  private readonly again = new Set<string>();
  private unsubscribe?: Unsubscribe;
  private sweepTimer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private stopped = false;

  constructor(private readonly deps: IntakeDeps) {}

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.broker.subscribe(topics.messages, (event) => {
      if (event.payload.case !== "messageCreated") return;
      const message = event.payload.value.message;
      if (message) this.take(message.roomId, message);
    });
    // A first sweep at once: what happened while no worker ran.
    this.scheduleSweep(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.sweepTimer);
    await this.unsubscribe?.();
    await this.sweeping?.catch(() => undefined);
    await Promise.allSettled([...this.queues.values()]);
  }

  /** Resolves once every room queued so far is caught up (tests). */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.allSettled([...this.queues.values()]);
  }

  /** Runs one sweep now (tests; the timer runs them otherwise). */
  async sweep(): Promise<void> {
    const sinceStored = await this.deps.db.fork().settings.get(SWEEP_POSITION);
    // The message service's clock: real time, never the test clock of due times.
    const startedAt = Date.now();
    const since = new Date((sinceStored ? Number(sinceStored) : startedAt - 10 * 60_000) - SWEEP_MARGIN_MS);
    let pageToken = "";
    const behind: string[] = [];
    do {
      const page = await this.deps.messages.listRoomHeads({ since: { seconds: BigInt(Math.floor(since.getTime() / 1000)), nanos: 0 }, limit: 500, pageToken });
      const cursors = await this.deps.db.fork().cursors.many(page.heads.map((head) => head.roomId));
      for (const head of page.heads) if ((cursors.get(head.roomId) ?? 0n) < head.lastSeq) behind.push(head.roomId);
      pageToken = page.nextPageToken;
    } while (pageToken && !this.stopped);
    for (const roomId of behind) this.take(roomId);
    await Promise.allSettled(behind.map((roomId) => this.queues.get(roomId)));
    await this.deps.db.fork().settings.put(SWEEP_POSITION, String(startedAt));
  }

  private scheduleSweep(delayMs: number): void {
    if (this.stopped) return;
    this.sweepTimer = setTimeout(() => {
      this.sweeping = this.sweep()
        .catch((error: unknown) => this.deps.log.warn({ err: error }, "notify sweep failed (next one retries)"))
        .finally(() => this.scheduleSweep(this.deps.sweepMs));
    }, delayMs);
    this.sweepTimer.unref?.();
  }

  /** Queues a catch-up of the room (one at a time per room); `hint` is the message an event carried. */
  take(roomId: string, hint?: Message): void {
    if (this.stopped) return;
    if (this.queues.has(roomId)) {
      this.again.add(roomId);
      return;
    }
    const run = (async () => {
      try {
        await this.catchUp(roomId, hint);
        while (this.again.delete(roomId) && !this.stopped) await this.catchUp(roomId);
      } catch (error) {
        // The sweep comes back to it: the cursor did not move past what failed.
        this.deps.log.warn({ err: error, roomId }, "notify intake failed for a room (the sweep retries)");
      } finally {
        this.queues.delete(roomId);
      }
    })();
    this.queues.set(roomId, run);
  }

  /** Claims what the room's messages after its cursor notify, page by page, moving the cursor. */
  private async catchUp(roomId: string, hint?: Message): Promise<void> {
    let cursor = (await this.deps.db.fork().cursors.get(roomId)) ?? 0n;
    if (hint && hint.seq <= cursor) return;
    if (hint && hint.seq === cursor + 1n) {
      await this.takeIn(roomId, [hint]);
      return;
    }
    for (;;) {
      const page = await this.deps.messages.listNewMessages({ roomId, afterSeq: cursor, limit: PAGE });
      if (page.messages.length === 0) return;
      await this.takeIn(roomId, page.messages);
      cursor = page.messages.at(-1)!.seq;
      if (!page.hasMore || this.stopped) return;
    }
  }

  /** Claims for these messages (ascending seqs of one room) and the cursor past them, in one transaction. */
  private async takeIn(roomId: string, messages: Message[]): Promise<void> {
    const now = this.deps.now();
    const claims: Claim[] = [];
    const rooms = new Map<string, RoomInfo | null>();
    for (const message of messages) {
      if (message.deleted || Date.now() - timeOf(message).getTime() > STALE_MS) continue;
      let room = rooms.get(message.senderId);
      if (room === undefined) rooms.set(message.senderId, (room = await this.roomAs(roomId, message.senderId)));
      // The sender is no longer in the room (or it is gone): nobody hears of it any more.
      if (!room) continue;
      claims.push(...(await this.claimsFor(message, room, now)));
    }
    const last = messages.at(-1)!.seq;
    const claimed = await this.deps.db.transactional(async ({ deliveries, cursors }) => {
      const inserted = await deliveries.claim(claims, now);
      await cursors.advance(roomId, last, now);
      return inserted;
    });
    if (claimed > 0) this.deps.onClaimed?.();
  }

  private async roomAs(roomId: string, senderId: string): Promise<RoomInfo | null> {
    try {
      const { room } = await this.deps.rooms.getRoom({ roomId }, asUser(senderId));
      if (!room) return null;
      return { direct: room.directMemberIds.length > 0, directMemberIds: room.directMemberIds };
    } catch (error) {
      const code = (error as { code?: number }).code;
      // NOT_FOUND (not a member, or gone): nothing to notify. Anything else: retried by the sweep.
      if (code === 5) return null;
      throw error;
    }
  }

  /** The claims one message makes: the strongest reason per person, the channels their preferences plan. */
  private async claimsFor(message: Message, room: RoomInfo, now: Date): Promise<Claim[]> {
    const { db } = this.deps;
    const senderId = message.senderId;
    const candidates = new Set<string>();
    if (room.direct) for (const id of room.directMemberIds) candidates.add(id);
    for (const id of message.mentionUserIds) candidates.add(id);
    if (message.mentionBroadcast === MentionBroadcast.ROOM || message.mentionBroadcast === MentionBroadcast.HERE) {
      for (const id of await this.membersAs(message.roomId, senderId)) candidates.add(id);
    }
    const followers = new Set<string>();
    if (message.threadRootId) {
      const { followers: list } = await this.deps.messages.listThreadFollowers({ threadRootId: message.threadRootId });
      for (const follower of list) {
        followers.add(follower.userId);
        candidates.add(follower.userId);
      }
    }
    const unit = db.fork();
    for (const id of await unit.rooms.allLevelUsers(message.roomId)) candidates.add(id);
    candidates.delete(senderId);
    if (candidates.size === 0) return [];
    const ids = [...candidates];
    const [preferences, roomSettings, threadSettings] = await Promise.all([
      unit.preferences.ofMany(ids),
      unit.rooms.ofRoom(message.roomId, ids),
      message.threadRootId ? unit.threads.ofThread(message.threadRootId, ids) : Promise.resolve(new Map()),
    ]);
    const facts = {
      senderId,
      direct: room.direct,
      mentionUserIds: message.mentionUserIds,
      mentionsEveryone: message.mentionBroadcast === MentionBroadcast.ROOM || message.mentionBroadcast === MentionBroadcast.HERE,
      ...(message.threadRootId && { threadRootId: message.threadRootId }),
      inRoomTimeline: !message.threadRootId || message.alsoSentToRoom,
    };
    // The message's age on the message service's clock (real time), placed on the worker's clock
    // (which tests move): the email delay runs from the message, whichever clock the worker has.
    const createdAt = new Date(now.getTime() - Math.max(0, Date.now() - timeOf(message).getTime()));
    const claims: Claim[] = [];
    for (const userId of ids) {
      const stored = preferences.get(userId)!;
      const roomSetting = roomSettings.get(userId);
      const reason: ReasonValue | undefined = reasonFor(
        facts,
        {
          userId,
          followsThread: followers.has(userId),
          room: roomSetting ? { level: roomSetting.level, mutedUntil: roomSetting.mutedUntil } : null,
          threadMutedUntil: threadSettings.get(userId)?.mutedUntil ?? null,
          defaultLevel: stored.defaultLevel,
        },
        now,
      );
      if (reason === undefined || reason === REASON.UNSPECIFIED) continue;
      const rulePreferences = {
        defaultLevel: stored.defaultLevel,
        desktop: stored.desktop,
        push: stored.push,
        email: stored.email,
        emailDelaySeconds: stored.emailDelaySeconds,
        dnd: { enabled: stored.dndEnabled, startMinute: stored.dndStartMinute, endMinute: stored.dndEndMinute, timeZone: stored.dndTimeZone },
        pausedUntil: stored.pausedUntil,
      };
      const plan = channelsFor(reason, rulePreferences, createdAt, now, { email: this.deps.email });
      const base = {
        userId,
        messageId: message.id,
        roomId: message.roomId,
        seq: message.seq,
        threadRootId: message.threadRootId || null,
        reason,
      };
      if (plan.desktop) claims.push({ ...base, channel: CHANNEL.DESKTOP, dueAt: now });
      if (plan.push) claims.push({ ...base, channel: CHANNEL.PUSH, dueAt: now });
      if (plan.email && plan.emailDueAt) claims.push({ ...base, channel: CHANNEL.EMAIL, dueAt: plan.emailDueAt });
    }
    return claims;
  }

  /** Every member of the room (@room / @here), listed as the sender (who must be one). */
  private async membersAs(roomId: string, senderId: string): Promise<string[]> {
    const ids: string[] = [];
    let pageToken = "";
    try {
      do {
        const page = await this.deps.rooms.listMembers({ roomId, pageSize: 200, pageToken }, asUser(senderId));
        for (const member of page.members) if (member.membership?.userId) ids.push(member.membership.userId);
        pageToken = page.nextPageToken;
      } while (pageToken);
    } catch (error) {
      // The sender left meanwhile: their @room reaches nobody.
      if ((error as { code?: number }).code === 5) return [];
      throw error;
    }
    return ids;
  }
}
