// NotificationService (issue 18): each person's preferences and room/thread settings, their Web
// Push subscriptions, the VAPID keys and the email unsubscribe. Every call acts for the signed-in
// caller of the internal credential; rooms and threads are checked with the room and message
// services as that caller, so a room they are not in is NOT_FOUND like one that does not exist.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { Code, ConnectError, asUser, fail, requireUserId, toTimestamp, validate, type CallContext, type Logger } from "@parley/kit";
import type { MessageService } from "@parley/proto/message/v1/message_pb";
import {
  Level,
  type AddPushSubscriptionRequest,
  type Preferences,
  type RemovePushSubscriptionRequest,
  type SetRoomPreferenceRequest,
  type SetThreadPreferenceRequest,
  type UnsubscribeRequest,
  type UpdatePreferencesRequest,
} from "@parley/proto/notify/v1/notify_pb";
import { Role, type RoomService } from "@parley/proto/room/v1/room_pb";
import type { UserService } from "@parley/proto/user/v1/user_pb";
import { fields } from "@parley/proto/rules/zod";
import { isTimeZone, TIME_ZONE_REFUSAL } from "@parley/proto/rules/search";
import { z } from "zod";
import type { NotifyDb } from "./db.js";
import type { PushSubscriptionRow, RoomPreferenceRow, ThreadPreferenceRow } from "./entities.js";
import { currentVapidKey, rotateVapidKeys, unsubscribeSecret } from "./keys.js";
import { verifyUnsubscribeToken } from "./channels/unsubscribe-token.js";
import { checkPushEndpoint, PushEndpointError } from "./channels/push-endpoint.js";
import { checkSubscriptionKeys, PushKeyError } from "./channels/push.js";
import type { StoredPreferences } from "./repositories.js";

export type RoomClient = Pick<Client<typeof RoomService>, "getMembership" | "getRoom" | "listMembers">;
export type MessageClient = Pick<Client<typeof MessageService>, "getThread" | "listRoomHeads" | "listNewMessages" | "listThreadFollowers">;
export type UserClient = Pick<Client<typeof UserService>, "batchGetUsers" | "getUser">;

export interface NotifyApiDeps {
  db: NotifyDb;
  log: Logger;
  rooms: RoomClient;
  messages: MessageClient;
  /** NOTIFY_PUSH_ALLOWED_HOSTS. */
  pushAllowedHosts: readonly string[];
  /** The clock (tests move it). */
  now: () => Date;
}

/** The latest time a mute may run to: 9999-12-31T23:59:59Z ("until unmuted"). */
const MAX_TIME_SECONDS = 253_402_300_799n;
import { EMAIL_DELAY_SECONDS as EMAIL_DELAY } from "@parley/proto/rules/notify";
const DEVICE_LABEL_MAX = 100;

/** The update_mask paths UpdatePreferences takes. */
export const PREFERENCE_PATHS = [
  "default_level",
  "desktop",
  "push",
  "email",
  "email_delay_seconds",
  "hide_previews",
  "sound",
  "dnd",
  "dnd.enabled",
  "dnd.start_minute",
  "dnd.end_minute",
  "dnd.time_zone",
  "paused_until",
] as const;
type PreferencePath = (typeof PREFERENCE_PATHS)[number];

export class NotificationServiceImpl {
  constructor(private readonly deps: NotifyApiDeps) {}

  async getPreferences(_request: unknown, ctx: CallContext) {
    const userId = requireUserId(ctx);
    const unit = this.deps.db.fork();
    const now = this.deps.now();
    const [preferences, rooms, threads] = await Promise.all([unit.preferences.of(userId), unit.rooms.ofUser(userId), unit.threads.ofUser(userId)]);
    return {
      preferences: toPreferences(preferences),
      rooms: rooms.filter((row) => row.level !== Level.UNSPECIFIED || isFuture(row.mutedUntil, now)).map((row) => toRoomPreference(row, now)),
      threads: threads.filter((row) => isFuture(row.mutedUntil, now)).map(toThreadPreference),
    };
  }

  async updatePreferences(request: UpdatePreferencesRequest, ctx: CallContext) {
    const userId = requireUserId(ctx);
    const paths = request.updateMask?.paths ?? [];
    if (paths.length === 0) throw fail.invalidArgument("update_mask", `must name at least one of ${PREFERENCE_PATHS.join(", ")}`);
    for (const path of paths) {
      if (!(PREFERENCE_PATHS as readonly string[]).includes(path)) {
        throw fail.invalidArgument("update_mask", `unknown path "${path}" (known: ${PREFERENCE_PATHS.join(", ")})`);
      }
    }
    const given = request.preferences;
    return this.deps.db.transactional(async ({ preferences }) => {
      const next = { ...(await preferences.of(userId)) };
      for (const path of paths as PreferencePath[]) applyPath(next, path, given);
      await preferences.save(userId, next);
      return { preferences: toPreferences(next) };
    });
  }

  async setRoomPreference(request: SetRoomPreferenceRequest, ctx: CallContext) {
    const userId = requireUserId(ctx);
    const { roomId } = validate(z.object({ roomId: fields.id }), { roomId: request.roomId });
    if (!Object.values(Level).includes(request.level) || typeof request.level !== "number") {
      throw fail.invalidArgument("level", "must be LEVEL_UNSPECIFIED, LEVEL_ALL, LEVEL_MENTIONS or LEVEL_NOTHING");
    }
    const mutedUntil = optionalTime("muted_until", request.mutedUntil);
    await this.requireMember(roomId, userId);
    await this.deps.db.transactional(({ rooms }) => rooms.set(userId, roomId, request.level, mutedUntil));
    return { room: { roomId, level: request.level, ...(mutedUntil && { mutedUntil: toTimestamp(mutedUntil) }) } };
  }

  async setThreadPreference(request: SetThreadPreferenceRequest, ctx: CallContext) {
    const userId = requireUserId(ctx);
    const { roomId, threadRootId } = validate(z.object({ roomId: fields.id, threadRootId: fields.id }), {
      roomId: request.roomId,
      threadRootId: request.threadRootId,
    });
    const mutedUntil = optionalTime("muted_until", request.mutedUntil);
    await this.requireMember(roomId, userId);
    await this.requireThread(roomId, threadRootId, userId);
    await this.deps.db.transactional(({ threads }) => threads.set(userId, roomId, threadRootId, mutedUntil));
    return { thread: { roomId, threadRootId, ...(mutedUntil && { mutedUntil: toTimestamp(mutedUntil) }) } };
  }

  async getPushConfig(_request: unknown, ctx: CallContext) {
    requireUserId(ctx);
    return { vapidPublicKey: (await currentVapidKey(this.deps.db, this.deps.now())).publicKey };
  }

  async addPushSubscription(request: AddPushSubscriptionRequest, ctx: CallContext) {
    const userId = requireUserId(ctx);
    try {
      checkPushEndpoint(request.endpoint, this.deps.pushAllowedHosts);
    } catch (error) {
      if (error instanceof PushEndpointError) throw fail.invalidArgument("endpoint", error.message.replace(/^push endpoint: /, ""));
      throw error;
    }
    try {
      // p256dh a point on P-256 (65 bytes, uncompressed), auth 16 bytes: what encryption needs.
      checkSubscriptionKeys(request.p256dh, request.auth);
    } catch (error) {
      if (error instanceof PushKeyError) throw fail.invalidArgument(error.field, error.message.replace(/^[a-z_0-9]+: /, ""));
      throw error;
    }
    const p256dh = Buffer.from(request.p256dh.replace(/=+$/, ""), "base64url");
    const auth = Buffer.from(request.auth.replace(/=+$/, ""), "base64url");
    const deviceLabel = request.deviceLabel.trim();
    if ([...deviceLabel].length > DEVICE_LABEL_MAX) throw fail.invalidArgument("device_label", `must be at most ${DEVICE_LABEL_MAX} characters`);
    const key = request.vapidPublicKey
      ? await this.deps.db.fork().vapid.byPublicKey(request.vapidPublicKey)
      : await currentVapidKey(this.deps.db, this.deps.now());
    if (!key) throw fail.failedPrecondition("vapid_public_key: the server does not hold this key (subscribe again with GetPushConfig's key)");
    const row = await this.deps.db.transactional(async ({ subscriptions, vapid }) => {
      const saved = await subscriptions.saveDevice(
        {
          userId,
          endpoint: request.endpoint,
          p256dh: p256dh.toString("base64url"),
          auth: auth.toString("base64url"),
          vapidKeyId: key.id,
          deviceLabel,
        },
        this.deps.now(),
      );
      // A device that subscribed again with the new key frees the old one.
      await vapid.pruneRetired();
      return saved;
    });
    return { subscription: toSubscription(row) };
  }

  async listPushSubscriptions(_request: unknown, ctx: CallContext) {
    const userId = requireUserId(ctx);
    return { subscriptions: (await this.deps.db.fork().subscriptions.ofUser(userId)).map(toSubscription) };
  }

  async removePushSubscription(request: RemovePushSubscriptionRequest, ctx: CallContext) {
    const userId = requireUserId(ctx);
    if (request.id && request.endpoint) throw fail.invalidArgument("id", "set id or endpoint, not both");
    if (!request.id && !request.endpoint) throw fail.invalidArgument("id", "set id or endpoint");
    if (request.id) validate(z.object({ id: fields.id }), { id: request.id });
    const removed = await this.deps.db.transactional(async ({ subscriptions, vapid }) => {
      const done = await subscriptions.removeOf(userId, request.id ? { id: request.id } : { endpoint: request.endpoint });
      if (done) await vapid.pruneRetired();
      return done;
    });
    if (!removed) throw fail.notFound("push subscription not found");
    return {};
  }

  async rotateVapidKeys(_request: unknown, ctx: CallContext) {
    const key = await rotateVapidKeys(this.deps.db, this.deps.now());
    ctx.log.info({ vapidKeyId: key.id }, "VAPID keys rotated");
    return { vapidPublicKey: key.publicKey };
  }

  async unsubscribe(request: UnsubscribeRequest, ctx: CallContext) {
    if (!request.token) throw fail.invalidArgument("token", "is required");
    const userId = verifyUnsubscribeToken(request.token, await unsubscribeSecret(this.deps.db));
    if (!userId) throw fail.invalidArgument("token", "is not a valid unsubscribe token");
    await this.deps.db.transactional(async ({ preferences }) => {
      const current = await preferences.of(userId);
      if (current.email) await preferences.save(userId, { ...current, email: false });
    });
    ctx.log.info({ userId }, "unsubscribed from email notifications");
    return {};
  }

  /** NOT_FOUND "room not found" for a room the caller is not in, as for one that does not exist. */
  private async requireMember(roomId: string, userId: string): Promise<void> {
    let membership;
    try {
      membership = (await this.deps.rooms.getMembership({ roomId, userId }, asUser(userId))).membership;
    } catch (error) {
      if (ConnectError.from(error).code === Code.NotFound) throw fail.notFound("room not found");
      throw error;
    }
    if (!membership || membership.role === Role.UNSPECIFIED) throw fail.notFound("room not found");
  }

  private async requireThread(roomId: string, rootId: string, userId: string): Promise<void> {
    let root;
    try {
      root = (await this.deps.messages.getThread({ rootId }, asUser(userId))).thread?.root;
    } catch (error) {
      const code = ConnectError.from(error).code;
      if (code === Code.NotFound || code === Code.InvalidArgument || code === Code.FailedPrecondition) throw fail.notFound("thread not found");
      throw error;
    }
    if (!root || root.roomId !== roomId) throw fail.notFound("thread not found");
  }
}

function applyPath(next: StoredPreferences, path: PreferencePath, given: Preferences | undefined): void {
  const field = `preferences.${path}`;
  const dnd = given?.dnd;
  switch (path) {
    case "default_level": {
      const level = given?.defaultLevel ?? Level.UNSPECIFIED;
      if (level !== Level.ALL && level !== Level.MENTIONS && level !== Level.NOTHING) {
        throw fail.invalidArgument(field, "must be LEVEL_ALL, LEVEL_MENTIONS or LEVEL_NOTHING");
      }
      next.defaultLevel = level;
      return;
    }
    case "desktop":
    case "push":
    case "email":
    case "sound":
      next[path] = given?.[path] ?? false;
      return;
    case "hide_previews":
      next.hidePreviews = given?.hidePreviews ?? false;
      return;
    case "email_delay_seconds": {
      const value = given?.emailDelaySeconds ?? 0;
      if (!Number.isInteger(value) || value < EMAIL_DELAY.min || value > EMAIL_DELAY.max) {
        throw fail.invalidArgument(field, `must be ${EMAIL_DELAY.min}-${EMAIL_DELAY.max} seconds`);
      }
      next.emailDelaySeconds = value;
      return;
    }
    case "dnd":
      applyPath(next, "dnd.enabled", given);
      applyPath(next, "dnd.start_minute", given);
      applyPath(next, "dnd.end_minute", given);
      applyPath(next, "dnd.time_zone", given);
      return;
    case "dnd.enabled":
      next.dndEnabled = dnd?.enabled ?? false;
      return;
    case "dnd.start_minute":
    case "dnd.end_minute": {
      const value = (path === "dnd.start_minute" ? dnd?.startMinute : dnd?.endMinute) ?? 0;
      if (!Number.isInteger(value) || value < 0 || value > 1439) throw fail.invalidArgument(field, "must be 0-1439 (minutes after midnight)");
      if (path === "dnd.start_minute") next.dndStartMinute = value;
      else next.dndEndMinute = value;
      return;
    }
    case "dnd.time_zone": {
      const zone = dnd?.timeZone || "UTC";
      if (!isTimeZone(zone)) throw fail.invalidArgument(field, TIME_ZONE_REFUSAL);
      next.dndTimeZone = zone;
      return;
    }
    case "paused_until":
      next.pausedUntil = optionalTime(field, given?.pausedUntil);
      return;
  }
}

/** An optional Timestamp as a Date (unset: null), INVALID_ARGUMENT naming `field` when out of range. */
function optionalTime(field: string, value: Timestamp | undefined): Date | null {
  if (!value) return null;
  if (value.seconds < 0n || value.seconds > MAX_TIME_SECONDS || value.nanos < 0 || value.nanos > 999_999_999) {
    throw fail.invalidArgument(field, "must be a time between 1970 and 9999-12-31");
  }
  return new Date(Number(value.seconds) * 1000 + Math.floor(value.nanos / 1e6));
}

const isFuture = (value: Date | null | undefined, now: Date) => value != null && value.getTime() > now.getTime();


export function toPreferences(stored: StoredPreferences) {
  return {
    defaultLevel: stored.defaultLevel as Level,
    desktop: stored.desktop,
    push: stored.push,
    email: stored.email,
    emailDelaySeconds: stored.emailDelaySeconds,
    hidePreviews: stored.hidePreviews,
    sound: stored.sound,
    dnd: { enabled: stored.dndEnabled, startMinute: stored.dndStartMinute, endMinute: stored.dndEndMinute, timeZone: stored.dndTimeZone },
    ...(stored.pausedUntil && { pausedUntil: toTimestamp(stored.pausedUntil) }),
  };
}

function toRoomPreference(row: RoomPreferenceRow, now: Date) {
  return { roomId: row.roomId, level: row.level as Level, ...(isFuture(row.mutedUntil, now) && { mutedUntil: toTimestamp(row.mutedUntil!) }) };
}

function toThreadPreference(row: ThreadPreferenceRow) {
  return { roomId: row.roomId, threadRootId: row.threadRootId, ...(row.mutedUntil && { mutedUntil: toTimestamp(row.mutedUntil) }) };
}

function toSubscription(row: PushSubscriptionRow) {
  return {
    id: row.id,
    endpointOrigin: new URL(row.endpoint).origin,
    deviceLabel: row.deviceLabel,
    createTime: toTimestamp(row.createdAt),
    ...(row.lastSuccessAt && { lastSuccessTime: toTimestamp(row.lastSuccessAt) }),
  };
}
