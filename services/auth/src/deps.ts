// Wires the auth service's dependencies from its configuration.
import { createRateLimiter, createServiceClient, type Broker, type InternalAuth, type Logger } from "@parley/kit";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { initORM } from "./db.js";
import { authSettings, type AuthEnv } from "./env.js";
import { SigningKeys } from "./keys.js";
import { PasswordHasher } from "./passwords.js";
import type { AuthDeps } from "./service.js";

export async function createAuthDeps(
  config: AuthEnv,
  log: Logger,
  broker: Broker,
  internalAuth: InternalAuth,
  dataDir?: string,
): Promise<AuthDeps & { close(): Promise<void> }> {
  const settings = authSettings(config);
  const db = await initORM({ databaseUrl: config.DATABASE_URL, dataDir: dataDir ?? `${config.DATA_DIR}/auth`, log });
  const keys = new SigningKeys(db, settings.accessTtlSeconds * 1000);
  await keys.current();
  const limiter = createRateLimiter(config.REDIS_URL, log, config.REDIS_PREFIX);
  return {
    db,
    broker,
    keys,
    limiter,
    settings,
    log,
    users: createServiceClient(UserService, config.USER_SERVICE_ADDR, { internalAuth }),
    hasher: new PasswordHasher(settings.argon2),
    async close() {
      await limiter.close();
      await db.orm.close();
    },
  };
}
