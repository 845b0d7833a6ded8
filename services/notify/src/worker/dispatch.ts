// The worker's dispatchers (issue 18): one loop per channel takes due deliveries with a lease
// (`for update skip locked`: replicas take disjoint rows), re-checks each at that moment (message
// not deleted, still unread on every device, still a member, the person's settings now), sends,
// then marks it sent. A dispatcher that dies mid-send leaves its rows leased; once the lease
// expires another one retries them with the same idempotency key (the notification id as the
// push Topic, the batch id as the email's Message-ID). The only window for a repeat is between the
// remote side accepting and the mark: a crash there sends that one again.
import { createHash } from "node:crypto";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, asUser, publishCommitted, toTimestamp, type Broker, type Logger, type PresenceStore } from "@parley/kit";
import { PresenceState } from "@parley/proto/events/v1/events_pb";
import type { Message } from "@parley/proto/message/v1/message_pb";
import { Role } from "@parley/proto/room/v1/room_pb";
import type { Reason } from "@parley/proto/notify/v1/notify_pb";
import { CHANNEL, LEVEL, REASON, REASON_NAMES, channelStillOn, deferEmailUntil, effectiveLevel, isMuted, type RulePreferences } from "@parley/proto/rules/notify";
import type { NotifyDb } from "../db.js";
import { renderDigest, type DigestItem, type Mailer } from "../channels/email.js";
import { messageUrl, unsubscribeUrl } from "../channels/links.js";
import { pushPayload, sendPush } from "../channels/push.js";
import type { PushAgents } from "../channels/push-endpoint.js";
import { signUnsubscribeToken } from "../channels/unsubscribe-token.js";
import { unsubscribeSecret } from "../keys.js";
import type { StoredPreferences } from "../repositories.js";
import type { MessageClient, RoomClient, UserClient } from "../service.js";
import type { DeliveryKey, DeliveryRow } from "./store.js";

export interface DispatchDeps {
  db: NotifyDb;
  log: Logger;
  broker: Broker;
  presence: PresenceStore;
  rooms: RoomClient;
  messages: MessageClient;
  users: UserClient & Pick<import("@connectrpc/connect").Client<typeof import("@parley/proto/user/v1/user_pb").UserService>, "getUser">;
  now: () => Date;
  publicUrl: string;
  vapidSubject: string;
  pushAllowedHosts: readonly string[];
  pushAgents?: PushAgents;
  /** Null: no email (SMTP_URL unset). */
  mailer: Mailer | null;
  /** How long a taken row is ours (then another dispatcher may retry it). Default 60 s. */
  leaseMs: number;
  /** How often an idle dispatcher looks for due rows (it is also woken by new claims). Default 1 s. */
  pollMs: number;
  /** Rows taken per round. */
  batchSize: number;
  /** Give up a delivery after this many attempts. */
  maxAttempts: number;
}

const PREVIEW_CHARS = 200;
/** A person's email gathers their mentions and direct messages due within this much of the first. */
export const EMAIL_BATCH_WINDOW_MS = 5 * 60_000;

/** Stable per (user, message): the web app's notification tag and the push Topic. */
export function notificationId(userId: string, messageId: string): string {
  const hex = createHash("sha256").update(`parley.notification:${userId}:${messageId}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const timeOf = (ts: Timestamp | undefined) => (ts ? new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6)) : new Date(0));

const rulePreferences = (stored: StoredPreferences): RulePreferences => ({
  defaultLevel: stored.defaultLevel,
  desktop: stored.desktop,
  push: stored.push,
  email: stored.email,
  emailDelaySeconds: stored.emailDelaySeconds,
  dnd: { enabled: stored.dndEnabled, startMinute: stored.dndStartMinute, endMinute: stored.dndEndMinute, timeZone: stored.dndTimeZone },
  pausedUntil: stored.pausedUntil,
});

const keyOf = (row: DeliveryRow): DeliveryKey => ({ userId: row.userId, messageId: row.messageId, channel: row.channel });

/** What one round learned about messages, rooms and people (asked once per round). */
class Round {
  private readonly messages = new Map<string, Promise<Message | undefined>>();
  private readonly memberships = new Map<string, Promise<{ lastReadSeq: bigint } | undefined>>();
  private readonly followers = new Map<string, Promise<Map<string, bigint>>>();
  private readonly roomNames = new Map<string, Promise<string>>();
  private readonly names = new Map<string, Promise<string>>();
  preferences = new Map<string, StoredPreferences>();

  constructor(private readonly deps: DispatchDeps) {}

  message(row: DeliveryRow): Promise<Message | undefined> {
    let found = this.messages.get(row.messageId);
    if (!found) {
      found = this.deps.messages
        .listNewMessages({ roomId: row.roomId, afterSeq: row.seq - 1n, limit: 1 })
        .then(({ messages }) => messages.find((m) => m.id === row.messageId));
      this.messages.set(row.messageId, found);
    }
    return found;
  }

  membership(roomId: string, userId: string) {
    const key = `${roomId}:${userId}`;
    let found = this.memberships.get(key);
    if (!found) {
      found = this.deps.rooms.getMembership({ roomId, userId }, asUser(userId)).then(
        ({ membership }) => (membership && membership.role !== Role.UNSPECIFIED ? { lastReadSeq: membership.lastReadSeq } : undefined),
        (error: unknown) => {
          if (ConnectError.from(error).code === Code.NotFound) return undefined;
          throw error;
        },
      );
      this.memberships.set(key, found);
    }
    return found;
  }

  threadReads(rootId: string): Promise<Map<string, bigint>> {
    let found = this.followers.get(rootId);
    if (!found) {
      found = this.deps.messages
        .listThreadFollowers({ threadRootId: rootId })
        .then(({ followers }) => new Map(followers.map((f) => [f.userId, f.lastReadSeq])));
      this.followers.set(rootId, found);
    }
    return found;
  }

  roomName(roomId: string, userId: string): Promise<string> {
    let found = this.roomNames.get(roomId);
    if (!found) {
      found = this.deps.rooms.getRoom({ roomId }, asUser(userId)).then(({ room }) => (room && room.directMemberIds.length === 0 ? room.name : ""));
      this.roomNames.set(roomId, found);
    }
    return found;
  }

  name(userId: string, asWho: string): Promise<string> {
    let found = this.names.get(userId);
    if (!found) {
      found = this.deps.users
        .batchGetUsers({ ids: [userId] }, asUser(asWho))
        .then(({ users }) => users[0]?.displayName || users[0]?.username || "Someone");
      this.names.set(userId, found);
    }
    return found;
  }

  /**
   * Why a claimed delivery must not go any more (a note), or undefined: the message deleted, read
   * on some device, the person no longer a member, the room muted or set to NOTHING, the thread
   * muted, the channel off or (desktop, push) quiet time.
   */
  async stale(row: DeliveryRow, now: Date): Promise<string | undefined> {
    const message = await this.message(row);
    if (!message || message.deleted) return "message deleted";
    const membership = await this.membership(row.roomId, row.userId);
    if (!membership) return "not a member";
    const inTimeline = !message.threadRootId || message.alsoSentToRoom;
    if (inTimeline && membership.lastReadSeq >= row.seq) return "read";
    if (message.threadRootId) {
      const threadRead = (await this.threadReads(message.threadRootId)).get(row.userId);
      if (threadRead !== undefined && threadRead >= row.seq) return "read";
    }
    const stored = this.preferences.get(row.userId)!;
    const unit = this.deps.db.fork();
    const room = (await unit.rooms.ofRoom(row.roomId, [row.userId])).get(row.userId);
    const level = effectiveLevel(row.reason === REASON.DIRECT, room ? { level: room.level, mutedUntil: room.mutedUntil } : null, stored.defaultLevel, now);
    if (level === LEVEL.NOTHING) return "room muted or set to nothing";
    if (row.reason === REASON.ROOM_MESSAGE && level !== LEVEL.ALL) return "room no longer at level all";
    if (row.reason === REASON.THREAD_REPLY && row.threadRootId) {
      const thread = (await unit.threads.ofThread(row.threadRootId, [row.userId])).get(row.userId);
      if (isMuted(thread?.mutedUntil, now)) return "thread muted";
    }
    if (!channelStillOn(row.channel as 1 | 2 | 3, rulePreferences(stored), now)) return "channel off or quiet time";
    return undefined;
  }

  async notification(row: DeliveryRow, sound: boolean) {
    const message = (await this.message(row))!;
    const [senderName, roomName] = await Promise.all([this.name(message.senderId, row.userId), this.roomName(row.roomId, row.userId)]);
    return {
      id: notificationId(row.userId, row.messageId),
      roomId: row.roomId,
      messageId: row.messageId,
      seq: row.seq,
      threadRootId: message.threadRootId,
      reason: row.reason as Reason,
      senderId: message.senderId,
      senderName,
      roomName,
      preview: [...message.body].slice(0, PREVIEW_CHARS).join(""),
      createTime: message.createTime ?? toTimestamp(0),
      sound,
    };
  }
}

/** One loop per channel; `poke` wakes them (new claims). */
export class Dispatchers {
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private wake?: () => void;
  private pokes = 0;

  constructor(private readonly deps: DispatchDeps) {}

  start(): void {
    const channels: number[] = [CHANNEL.DESKTOP, CHANNEL.PUSH];
    if (this.deps.mailer) channels.push(CHANNEL.EMAIL);
    for (const channel of channels) this.loops.push(this.loop(channel));
  }

  poke(): void {
    this.pokes++;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await Promise.allSettled(this.loops);
  }

  private async loop(channel: number): Promise<void> {
    while (!this.stopped) {
      const seen = this.pokes;
      let taken = 0;
      try {
        taken = await this.round(channel);
      } catch (error) {
        this.deps.log.warn({ err: error, channel }, "notify dispatch round failed (retried)");
      }
      if (taken > 0 || this.stopped || seen !== this.pokes) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.deps.pollMs);
        const previous = this.wake;
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = () => {
          previous?.();
          done();
        };
      });
    }
  }

  /** Takes and handles one batch of due rows of `channel`; returns how many it took. */
  async round(channel: number): Promise<number> {
    const now = this.deps.now();
    const leaseUntil = new Date(now.getTime() + this.deps.leaseMs);
    const rows = await this.deps.db.transactional(({ deliveries }) =>
      channel === CHANNEL.EMAIL
        ? deliveries.leaseEmail(now, leaseUntil, this.deps.batchSize, EMAIL_BATCH_WINDOW_MS)
        : deliveries.lease(channel, now, leaseUntil, this.deps.batchSize),
    );
    if (rows.length === 0) return 0;
    const round = new Round(this.deps);
    round.preferences = await this.deps.db.fork().preferences.ofMany([...new Set(rows.map((r) => r.userId))]);
    if (channel === CHANNEL.EMAIL) await this.emails(rows, round, now);
    else await Promise.all(rows.map((row) => this.one(row, round, now)));
    return rows.length;
  }

  private async finish(rows: DeliveryRow[], state: "sent" | "skipped", note = ""): Promise<void> {
    await this.deps.db.transactional(({ deliveries }) => deliveries.finish(rows.map(keyOf), state, this.deps.now(), note));
  }

  private async retry(rows: DeliveryRow[], note: string, afterMs?: number): Promise<void> {
    const attempts = Math.max(...rows.map((r) => r.attempts));
    if (attempts >= this.deps.maxAttempts) {
      this.deps.log.warn({ note, attempts }, "notify delivery given up");
      await this.finish(rows, "skipped", `gave up: ${note}`);
      return;
    }
    const backoff = afterMs ?? Math.min(3_600_000, 5_000 * 2 ** (attempts - 1));
    await this.deps.db.transactional(({ deliveries }) => deliveries.postpone(rows.map(keyOf), new Date(this.deps.now().getTime() + backoff), note));
  }

  private async online(userId: string): Promise<boolean> {
    return (await this.deps.presence.states([userId])).get(userId) === PresenceState.ONLINE;
  }

  /** A desktop or push delivery. */
  private async one(row: DeliveryRow, round: Round, now: Date): Promise<void> {
    try {
      const stale = await round.stale(row, now);
      if (stale) return await this.finish([row], "skipped", stale);
      const stored = round.preferences.get(row.userId)!;
      const notification = await round.notification(row, stored.sound);
      if (row.channel === CHANNEL.DESKTOP) {
        publishCommitted(this.deps.broker, this.deps.log, {
          roomId: "",
          payload: { case: "notificationCreated", value: { userId: row.userId, notification } },
          users: [row.userId],
        });
        return await this.finish([row], "sent");
      }
      // Push is for when the app is closed: someone online anywhere has it open.
      if (await this.online(row.userId)) return await this.finish([row], "skipped", "online");
      await this.push(row, round, notification, stored);
    } catch (error) {
      this.deps.log.warn({ err: error, userId: row.userId, messageId: row.messageId, channel: row.channel }, "notify delivery failed (retried)");
      await this.retry([row], error instanceof Error ? error.message : String(error)).catch(() => undefined);
    }
  }

  private async push(row: DeliveryRow, _round: Round, notification: Awaited<ReturnType<Round["notification"]>>, stored: StoredPreferences) {
    const unit = this.deps.db.fork();
    const subscriptions = await unit.subscriptions.ofUser(row.userId);
    if (subscriptions.length === 0) return this.finish([row], "skipped", "no push subscription");
    const payload = pushPayload(notification as never, { publicUrl: this.deps.publicUrl, hidePreviews: stored.hidePreviews });
    let sent = 0;
    let retryAfter: number | undefined;
    let retryNote = "";
    for (const subscription of subscriptions) {
      const key = await unit.vapid.byId(subscription.vapidKeyId);
      if (!key) continue;
      const outcome = await sendPush(
        { endpoint: subscription.endpoint, p256dh: subscription.p256dh, auth: subscription.auth },
        payload,
        { publicKey: key.publicKey, privateKey: key.privateKey, subject: this.deps.vapidSubject },
        { topic: notification.id, allowedHosts: this.deps.pushAllowedHosts, ...(this.deps.pushAgents && { agent: this.deps.pushAgents }) },
      );
      if (outcome.kind === "sent") {
        sent++;
        await this.deps.db.fork().subscriptions.succeeded(subscription.id, this.deps.now());
      } else if (outcome.kind === "gone") {
        // The push service says the browser unsubscribed: forget it (and a retired key it held).
        await this.deps.db.transactional(async ({ subscriptions: subs, vapid }) => {
          await subs.removeById(subscription.id);
          await vapid.pruneRetired();
        });
        this.deps.log.info({ subscriptionId: subscription.id, status: outcome.status }, "push subscription gone: removed");
      } else if (outcome.kind === "retry") {
        retryAfter = Math.max(retryAfter ?? 0, outcome.retryAfterMs ?? 0) || undefined;
        retryNote = outcome.detail;
      } else {
        this.deps.log.warn({ subscriptionId: subscription.id, detail: outcome.detail }, "push refused");
      }
    }
    // A device that asked for a retry gets one (the Topic makes the others' repeat replace theirs).
    if (retryNote && sent === 0) return this.retry([row], retryNote, retryAfter);
    if (retryNote) this.deps.log.warn({ detail: retryNote }, "push: some devices asked for a retry; sent to the others");
    return this.finish([row], sent > 0 ? "sent" : "skipped", sent > 0 ? "" : "no device took it");
  }

  /** Email rows: per person one email of what is still unread, after the re-checks. */
  private async emails(rows: DeliveryRow[], round: Round, now: Date): Promise<void> {
    const byUser = new Map<string, DeliveryRow[]>();
    for (const row of rows) byUser.set(row.userId, [...(byUser.get(row.userId) ?? []), row]);
    await Promise.all([...byUser.entries()].map(([userId, list]) => this.emailOf(userId, list, round, now)));
  }

  private async emailOf(userId: string, rows: DeliveryRow[], round: Round, now: Date): Promise<void> {
    try {
      const keep: DeliveryRow[] = [];
      for (const row of rows) {
        const stale = await round.stale(row, now);
        if (stale) await this.finish([row], "skipped", stale);
        else keep.push(row);
      }
      if (keep.length === 0) return;
      const stored = round.preferences.get(userId)!;
      const quietEnd = deferEmailUntil(rulePreferences(stored), now);
      if (quietEnd) {
        await this.deps.db.transactional(({ deliveries }) => deliveries.postpone(keep.map(keyOf), quietEnd, "quiet time"));
        return;
      }
      // Active somewhere: they will see it; ask again after another delay.
      if (await this.online(userId)) {
        const later = new Date(now.getTime() + stored.emailDelaySeconds * 1000);
        await this.deps.db.transactional(({ deliveries }) => deliveries.postpone(keep.map(keyOf), later, "online"));
        return;
      }
      const { user } = await this.deps.users.getUser({ id: userId }, asUser(userId));
      if (!user?.email) return await this.finish(keep, "skipped", "no email address");
      // Batches: a retried batch keeps its id (the same Message-ID); new rows get one together.
      const fresh = keep.filter((row) => !row.batchId);
      if (fresh.length > 0) {
        const batchId = await this.deps.db.transactional(({ deliveries }) => deliveries.assignBatch(fresh.map(keyOf)));
        for (const row of fresh) row.batchId = batchId;
      }
      const batches = new Map<string, DeliveryRow[]>();
      for (const row of keep) batches.set(row.batchId!, [...(batches.get(row.batchId!) ?? []), row]);
      const secret = await unsubscribeSecret(this.deps.db);
      for (const [batchId, batch] of batches) {
        batch.sort((a, b) => (a.roomId === b.roomId ? Number(a.seq - b.seq) : a.roomId < b.roomId ? -1 : 1));
        const items: DigestItem[] = [];
        for (const row of batch) {
          const message = (await round.message(row))!;
          items.push({
            roomName: await round.roomName(row.roomId, userId),
            senderName: await round.name(message.senderId, userId),
            text: message.body,
            time: timeOf(message.createTime),
            url: messageUrl(this.deps.publicUrl, row.roomId, row.seq, message.threadRootId || undefined),
            reason: REASON_NAMES[row.reason as keyof typeof REASON_NAMES],
          });
        }
        const email = renderDigest({
          to: { name: user.displayName || user.username, email: user.email },
          items,
          unsubscribeUrl: unsubscribeUrl(this.deps.publicUrl, signUnsubscribeToken(userId, secret)),
          appName: "Parley",
          publicUrl: this.deps.publicUrl,
          batchId,
          timeZone: stored.dndTimeZone,
        });
        const outcome = await this.deps.mailer!.send(email);
        if (outcome.kind === "sent") await this.finish(batch, "sent");
        else if (outcome.kind === "retry") await this.retry(batch, outcome.detail);
        else {
          this.deps.log.warn({ userId, detail: outcome.detail }, "notification email refused");
          await this.finish(batch, "skipped", outcome.detail);
        }
      }
    } catch (error) {
      this.deps.log.warn({ err: error, userId }, "notification email failed (retried)");
      await this.retry(rows, error instanceof Error ? error.message : String(error)).catch(() => undefined);
    }
  }
}
