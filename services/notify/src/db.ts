// The notify service's database: its entities, its migrations, and its data access in the kit's
// one style (services/kit/src/db.ts): `db.fork()` or `db.transactional()` per unit of work.
import { dataAccess, openDatabase, type DatabaseOptions } from "@parley/kit";
import { PreferenceRow, PushSubscriptionRow, RoomPreferenceRow, Setting, ThreadPreferenceRow, VapidKey, entities } from "./entities.js";
import { migrations } from "./migrations/index.js";
import {
  PreferenceRepository,
  PushSubscriptionRepository,
  RoomPreferenceRepository,
  SettingRepository,
  ThreadPreferenceRepository,
  VapidKeyRepository,
} from "./repositories.js";
import { CursorRepository, DeliveryRepository } from "./worker/store.js";


export async function initORM(options: Pick<DatabaseOptions, "databaseUrl" | "dataDir" | "log">) {
  const orm = await openDatabase({ ...options, service: "notify", entities, migrations });
  return dataAccess(orm, (em) => ({
    preferences: new PreferenceRepository(em, PreferenceRow),
    rooms: new RoomPreferenceRepository(em, RoomPreferenceRow),
    threads: new ThreadPreferenceRepository(em, ThreadPreferenceRow),
    vapid: new VapidKeyRepository(em, VapidKey),
    subscriptions: new PushSubscriptionRepository(em, PushSubscriptionRow),
    settings: new SettingRepository(em, Setting),
    deliveries: new DeliveryRepository(em),
    cursors: new CursorRepository(em),


  }));
}

export type NotifyDb = Awaited<ReturnType<typeof initORM>>;
