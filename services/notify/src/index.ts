export { build } from "./server.js";
export { launch } from "./launch.js";
export { initORM, type NotifyDb } from "./db.js";
export { notifyEnv, type NotifyEnv } from "./env.js";
export { unsubscribeToken, verifyUnsubscribeToken } from "./keys.js";
export type { NotifyApiDeps } from "./service.js";
