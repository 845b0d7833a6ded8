export { build, type UserServerDeps } from "./server.js";
export { initORM, type UserDb } from "./db.js";
export { userEnv } from "./env.js";
export { launch } from "./launch.js";
