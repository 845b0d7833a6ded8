export { build } from "./server.js";
export { launch } from "./launch.js";
export { createAuthDeps } from "./deps.js";
export { authEnv, authSettings, type AuthEnv, type AuthSettings } from "./env.js";
export type { AuthDeps } from "./service.js";
