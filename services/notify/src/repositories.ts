// The notify service's repositories; built over one fork by initORM's data access (see
// services/kit/src/db.ts). Raw SQL goes through em.execute, which joins the fork's transaction.
import { EntityRepository } from "@parley/kit";
import { DEFAULTS } from "@parley/proto/rules/notify";
import { uuidv7 } from "uuidv7";
import {
  Delivery,
  PreferenceRow,
  PushSubscriptionRow,
  RoomCursor,
  RoomPreferenceRow,
  Setting,
  ThreadPreferenceRow,
  VapidKey,
} from "./entities.js";

/** A person's preferences as stored (a missing row is these defaults). */
export type StoredPreferences = Omit<PreferenceRow, "userId" | "updatedAt">;

export const DEFAULT_PREFERENCES: StoredPreferences = {
  ...DEFAULTS,
  dndEnabled: false,
  dndStartMinute: 0,
  dndEndMinute: 0,
  dndTimeZone: "UTC",
  pausedUntil: null,
};

export class PreferenceRepository extends EntityRepository<PreferenceRow> {
  async of(userId: string): Promise<StoredPreferences> {
    const row = await this.findOne({ userId });
    if (!row) return { ...DEFAULT_PREFERENCES };
    const { userId: _u, updatedAt: _t, ...stored } = row;
    return stored;
  }

  /** Preferences of many people at once (defaults for those without a row). */
  async ofMany(userIds: string[]): Promise<Map<string, StoredPreferences>> {
    const rows = userIds.length === 0 ? [] : await this.find({ userId: { $in: userIds } });
    const byId = new Map<string, StoredPreferences>(userIds.map((id) => [id, { ...DEFAULT_PREFERENCES }]));
    for (const { userId, updatedAt: _t, ...stored } of rows) byId.set(userId, stored);
    return byId;
  }

  async save(userId: string, preferences: StoredPreferences): Promise<void> {
    await this.em.upsert(PreferenceRow, { userId, ...preferences, updatedAt: new Date() });
  }
}

export class RoomPreferenceRepository extends EntityRepository<RoomPreferenceRow> {
  async set(userId: string, roomId: string, level: number, mutedUntil: Date | null): Promise<void> {
    if (level === 0 && mutedUntil === null) {
      await this.nativeDelete({ userId, roomId });
      return;
    }
    await this.em.upsert(RoomPreferenceRow, { userId, roomId, level, mutedUntil });
  }

  async ofUser(userId: string): Promise<RoomPreferenceRow[]> {
    return this.find({ userId }, { orderBy: { roomId: "asc" } });
  }

  async ofRoom(roomId: string, userIds: string[]): Promise<Map<string, RoomPreferenceRow>> {
    if (userIds.length === 0) return new Map();
    const rows = await this.find({ roomId, userId: { $in: userIds } });
    return new Map(rows.map((row) => [row.userId, row]));
  }

  /** Who chose LEVEL_ALL for the room (candidates for REASON_ROOM_MESSAGE). */
  async allLevelUsers(roomId: string): Promise<string[]> {
    const rows = await this.em.execute<{ user_id: string }[]>(`select user_id from room_preferences where room_id = ? and level = 1`, [roomId]);
    return rows.map((row) => row.user_id);
  }
}

export class ThreadPreferenceRepository extends EntityRepository<ThreadPreferenceRow> {
  async set(userId: string, roomId: string, threadRootId: string, mutedUntil: Date | null): Promise<void> {
    if (mutedUntil === null) {
      await this.nativeDelete({ userId, threadRootId });
      return;
    }
    await this.em.upsert(ThreadPreferenceRow, { userId, threadRootId, roomId, mutedUntil });
  }

  async ofUser(userId: string): Promise<ThreadPreferenceRow[]> {
    return this.find({ userId }, { orderBy: { threadRootId: "asc" } });
  }

  async ofThread(threadRootId: string, userIds: string[]): Promise<Map<string, ThreadPreferenceRow>> {
    if (userIds.length === 0) return new Map();
    const rows = await this.find({ threadRootId, userId: { $in: userIds } });
    return new Map(rows.map((row) => [row.userId, row]));
  }
}

export class VapidKeyRepository extends EntityRepository<VapidKey> {
  async current(): Promise<VapidKey | null> {
    return this.findOne({ retiredAt: null });
  }

  async byPublicKey(publicKey: string): Promise<VapidKey | null> {
    return this.findOne({ publicKey });
  }

  async byId(id: string): Promise<VapidKey | null> {
    return this.findOne({ id });
  }

  /**
   * Makes `keys` the current pair when there is none (`onlyIfNone`) or always (rotation: the
   * current one is retired first). Runs in a transaction: the unique index on the current key
   * makes two replicas' first starts agree on one.
   */
  async install(keys: { publicKey: string; privateKey: string }, now: Date): Promise<void> {
    await this.em.execute(`update vapid_keys set retired_at = ? where retired_at is null`, [now]);
    await this.em.execute(`insert into vapid_keys (id, public_key, private_key, created_at) values (?, ?, ?, ?)`, [
      uuidv7(),
      keys.publicKey,
      keys.privateKey,
      now,
    ]);
  }

  /** A first start's key pair, unless another replica made one meanwhile. */
  async installFirst(keys: { publicKey: string; privateKey: string }, now: Date): Promise<void> {
    await this.em.execute(
      `insert into vapid_keys (id, public_key, private_key, created_at) values (?, ?, ?, ?) on conflict do nothing`,
      [uuidv7(), keys.publicKey, keys.privateKey, now],
    );
  }

  /** Deletes the retired keys no subscription uses any more. */
  async pruneRetired(): Promise<number> {
    const rows = await this.em.execute<{ id: string }[]>(
      `delete from vapid_keys k where retired_at is not null
       and not exists (select 1 from push_subscriptions s where s.vapid_key_id = k.id) returning id`,
    );
    return rows.length;
  }
}

export class PushSubscriptionRepository extends EntityRepository<PushSubscriptionRow> {
  /** Adds the subscription, or (same endpoint) replaces its keys and moves it to `userId`. */
  async saveDevice(input: Omit<PushSubscriptionRow, "id" | "createdAt" | "lastSuccessAt">, now: Date): Promise<PushSubscriptionRow> {
    const [row] = await this.em.execute<Record<string, unknown>[]>(
      `insert into push_subscriptions (id, user_id, endpoint, p256dh, auth, vapid_key_id, device_label, created_at)
       values (?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (endpoint) do update set user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,
         vapid_key_id = excluded.vapid_key_id, device_label = excluded.device_label, created_at = excluded.created_at
       returning *`,
      [uuidv7(), input.userId, input.endpoint, input.p256dh, input.auth, input.vapidKeyId, input.deviceLabel, now],
    );
    return this.em.map(PushSubscriptionRow, row!);
  }

  async ofUser(userId: string): Promise<PushSubscriptionRow[]> {
    return this.find({ userId }, { orderBy: { createdAt: "desc", id: "desc" } });
  }

  /** Deletes the caller's subscription (by id or endpoint); false when there is none of theirs. */
  async removeOf(userId: string, by: { id?: string; endpoint?: string }): Promise<boolean> {
    const where = by.id ? { userId, id: by.id } : { userId, endpoint: by.endpoint! };
    return (await this.nativeDelete(where)) > 0;
  }

  /** The push service said the subscription is gone (404/410). */
  async removeById(id: string): Promise<void> {
    await this.nativeDelete({ id });
  }

  async succeeded(id: string, at: Date): Promise<void> {
    await this.nativeUpdate({ id }, { lastSuccessAt: at });
  }
}

export class SettingRepository extends EntityRepository<Setting> {
  async get(name: string): Promise<string | undefined> {
    return (await this.findOne({ name }))?.value;
  }

  /** The value of `name`, made by `make` on first use (the first writer wins across replicas). */
  async getOrCreate(name: string, make: () => string): Promise<string> {
    await this.em.execute(`insert into settings (name, value) values (?, ?) on conflict do nothing`, [name, make()]);
    return (await this.get(name))!;
  }

  async put(name: string, value: string): Promise<void> {
    await this.em.execute(`insert into settings (name, value) values (?, ?) on conflict (name) do update set value = excluded.value`, [name, value]);
  }
}


