// The room service's database: its entities, its migrations, and its data access in the
// kit's one style (services/kit/src/db.ts): `db.fork()` or `db.transactional()` per unit of
// work, giving the repositories `rooms`, `memberships` and `roomChanges` over that fork.
import { dataAccess, openDatabase, type DatabaseOptions } from "@parley/kit";
import { Membership, Room, RoomChange, entities } from "./entities.js";
import { migrations } from "./migrations/index.js";
import { MembershipRepository, RoomChangeRepository, RoomRepository } from "./repositories.js";

export async function initORM(options: Pick<DatabaseOptions, "databaseUrl" | "dataDir" | "log">) {
  const orm = await openDatabase({ ...options, service: "room", entities, migrations });
  return dataAccess(orm, (em) => ({
    rooms: new RoomRepository(em, Room),
    memberships: new MembershipRepository(em, Membership),
    roomChanges: new RoomChangeRepository(em, RoomChange),
  }));
}

export type RoomDb = Awaited<ReturnType<typeof initORM>>;
