// Wires the room service's dependencies from its configuration.
import { createServiceClient, type Broker, type InternalAuth, type Logger } from "@parley/kit";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { initORM } from "./db.js";
import type { RoomEnv } from "./env.js";
import type { RoomDeps } from "./service.js";

export async function createRoomDeps(
  config: RoomEnv,
  log: Logger,
  broker: Broker,
  internalAuth: InternalAuth,
  dataDir?: string,
): Promise<RoomDeps & { close(): Promise<void> }> {
  const db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir: dataDir ?? `${config.DATA_DIR}/room`, log });
  return {
    db,
    broker,
    log,
    users: createServiceClient(UserService, config.USER_SERVICE_ADDR, { internalAuth }),
    close: () => db.orm.close(),
  };
}
