export { launch } from "./launch.js";
export { edgeEnv, type EdgeEnv } from "./env.js";
export type { AppRouter } from "./api/routers/_app.js";
export { launch as launchSocket } from "./socket/launch.js";
export { socketEnv, type SocketEnv } from "./socket/env.js";
