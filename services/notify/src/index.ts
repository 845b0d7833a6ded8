export { build } from "./server.js";
export { launch, notifyLaunch, type NotifyOverrides } from "./launch.js";
export { NotifyWorker } from "./worker/index.js";
export { notificationId } from "./worker/dispatch.js";
export { initORM, type NotifyDb } from "./db.js";
export { notifyEnv, type NotifyEnv } from "./env.js";
export type { NotifyApiDeps } from "./service.js";
