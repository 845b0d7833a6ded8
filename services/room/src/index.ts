export { build } from "./server.js";
export { launch } from "./launch.js";
export { createRoomDeps } from "./deps.js";
export { initORM, type RoomDb } from "./db.js";
export { roomEnv, type RoomEnv } from "./env.js";
export type { RoomDeps } from "./service.js";
