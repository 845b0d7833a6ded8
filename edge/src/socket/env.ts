import { serviceEnvShape } from "@parley/kit";
import { z } from "zod";
import { publicEnvShape } from "../public-env.js";

const count = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const socketEnv = z.object({
  ...serviceEnvShape(3007),
  ...publicEnvShape("http://localhost:3000,http://localhost:8080,http://127.0.0.1:8080"),
  /** Identifies this node in logs and presence (default: random per start). */
  NODE_ID: z.string().regex(/^[\w.-]{1,64}$/).optional(),
  SOCKET_MAX_FRAME_BYTES: count(16 * 1024),
  SOCKET_SLOW_CONSUMER_BYTES: count(1024 * 1024),
  SOCKET_FRAMES_PER_SECOND: count(50),
  SOCKET_HEAD_CHECK_MS: count(3_000),
  /** Subscriptions being set up (membership, replay) at once; more wait in line (a reconnect storm queues here, not in the services). */
  SOCKET_SUBSCRIBE_CONCURRENCY: count(32),
  /** Run on uWebSockets.js's slow JavaScript fallback when the native binding cannot load. */
  UWS_ALLOW_FALLBACK: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
});
export type SocketEnv = z.infer<typeof socketEnv>;
