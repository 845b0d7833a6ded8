// The notify service's tables (issue 18): each person's preferences and their room and thread
// settings, Web Push subscriptions and the server's VAPID keys, its settings (the unsubscribe
// secret, the sweep's position), the worker's per-room cursors, and the deliveries: the claim of
// each (user, message, channel), which makes every notification go out once.
// Levels, channels and reasons are stored as their parley.notify.v1 enum numbers.
import { defineEntity, type InferEntity } from "@mikro-orm/core";

const p = defineEntity.properties;

/** One row per person who changed a default; no row: the defaults (see DEFAULT_PREFERENCES). */
export const PreferenceRow = defineEntity({
  name: "PreferenceRow",
  tableName: "preferences",
  properties: {
    userId: p.uuid().primary(),
    defaultLevel: p.smallint().default(2),
    desktop: p.boolean().default(true),
    push: p.boolean().default(true),
    email: p.boolean().default(true),
    emailDelaySeconds: p.integer().default(900),
    hidePreviews: p.boolean().default(false),
    sound: p.boolean().default(true),
    dndEnabled: p.boolean().default(false),
    dndStartMinute: p.smallint().default(0),
    dndEndMinute: p.smallint().default(0),
    dndTimeZone: p.string().length(64).default("UTC"),
    pausedUntil: p.datetime().nullable(),
    updatedAt: p.datetime(),
  },
});
export type PreferenceRow = InferEntity<typeof PreferenceRow>;

/** A person's level and mute for one room; no row: the default level, not muted. */
export const RoomPreferenceRow = defineEntity({
  name: "RoomPreferenceRow",
  tableName: "room_preferences",
  properties: {
    userId: p.uuid().primary(),
    roomId: p.uuid().primary(),
    level: p.smallint().default(0),
    mutedUntil: p.datetime().nullable(),
  },
});
export type RoomPreferenceRow = InferEntity<typeof RoomPreferenceRow>;

/** A muted thread. */
export const ThreadPreferenceRow = defineEntity({
  name: "ThreadPreferenceRow",
  tableName: "thread_preferences",
  properties: {
    userId: p.uuid().primary(),
    threadRootId: p.uuid().primary(),
    roomId: p.uuid(),
    mutedUntil: p.datetime().nullable(),
  },
});
export type ThreadPreferenceRow = InferEntity<typeof ThreadPreferenceRow>;

/**
 * A VAPID key pair (P-256, base64url as web-push makes them). One is current (retired_at null);
 * retired ones stay while a subscription made with them exists, and sign that subscription's pushes.
 */
export const VapidKey = defineEntity({
  name: "VapidKey",
  tableName: "vapid_keys",
  properties: {
    id: p.uuid().primary(),
    publicKey: p.string().length(100).unique(),
    privateKey: p.string().length(100),
    createdAt: p.datetime(),
    retiredAt: p.datetime().nullable(),
  },
});
export type VapidKey = InferEntity<typeof VapidKey>;

export const PushSubscriptionRow = defineEntity({
  name: "PushSubscriptionRow",
  tableName: "push_subscriptions",
  properties: {
    id: p.uuid().primary(),
    userId: p.uuid().index(),
    // The full endpoint: a capability, never returned. Unique: the same device again replaces its keys.
    endpoint: p.text().unique(),
    p256dh: p.string().length(100),
    auth: p.string().length(40),
    vapidKeyId: p.uuid().index(),
    deviceLabel: p.string().length(100).default(""),
    createdAt: p.datetime(),
    lastSuccessAt: p.datetime().nullable(),
  },
});
export type PushSubscriptionRow = InferEntity<typeof PushSubscriptionRow>;

/** Small named values of the service: the unsubscribe secret, the sweep's last position. */
export const Setting = defineEntity({
  name: "Setting",
  tableName: "settings",
  properties: {
    name: p.string().length(64).primary(),
    value: p.text(),
  },
});
export type Setting = InferEntity<typeof Setting>;

/** The last seq of the room the worker has taken in (claimed what it notifies). */
export const RoomCursor = defineEntity({
  name: "RoomCursor",
  tableName: "room_cursors",
  properties: {
    roomId: p.uuid().primary(),
    lastSeq: p.bigint().default(0),
    updatedAt: p.datetime(),
  },
});
export type RoomCursor = InferEntity<typeof RoomCursor>;

/**
 * The claim of one (user, message, channel). States: pending (due at due_at), sending (leased by a
 * dispatcher until lease_until), sent, skipped (the re-check at dispatch found it read, muted, ...).
 * An expired lease goes back to the dispatchers with the same idempotency key.
 */
export const Delivery = defineEntity({
  name: "Delivery",
  tableName: "deliveries",
  properties: {
    userId: p.uuid().primary(),
    messageId: p.uuid().primary(),
    channel: p.smallint().primary(),
    roomId: p.uuid(),
    seq: p.bigint(),
    threadRootId: p.uuid().nullable(),
    reason: p.smallint(),
    state: p.enum(["pending", "sending", "sent", "skipped"]).default("pending"),
    dueAt: p.datetime(),
    leaseUntil: p.datetime().nullable(),
    attempts: p.integer().default(0),
    sentAt: p.datetime().nullable(),
    // Email: the batch (one email) the row went out in.
    batchId: p.uuid().nullable(),
    // Why it was skipped or last failed (for operators).
    note: p.string().length(200).default(""),
    createdAt: p.datetime(),
  },
});
export type Delivery = InferEntity<typeof Delivery>;

export const entities = [PreferenceRow, RoomPreferenceRow, ThreadPreferenceRow, VapidKey, PushSubscriptionRow, Setting, RoomCursor, Delivery];
