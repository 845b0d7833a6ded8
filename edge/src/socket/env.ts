import { serviceEnvShape } from "@parley/kit";
import { z } from "zod";
import { publicEnvShape } from "../public-env.js";
import { DEFAULT_MAX_FRAME_BYTES, LARGEST_SEND_FRAME_BYTES } from "./protocol.js";

const count = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const socketEnv = z.object({
  ...serviceEnvShape(3007),
  ...publicEnvShape("http://localhost:3000,http://localhost:8080,http://127.0.0.1:8080"),
  /** Identifies this node in logs and presence (default: random per start). */
  NODE_ID: z.string().regex(/^[\w.-]{1,64}$/).optional(),
  /** Largest client frame; below the largest valid Send (JSON-escaped) the node refuses to start. */
  SOCKET_MAX_FRAME_BYTES: z.coerce
    .number()
    .int()
    .min(LARGEST_SEND_FRAME_BYTES, `at least ${LARGEST_SEND_FRAME_BYTES}: the largest valid message, JSON-escaped, must fit in a frame`)
    .default(DEFAULT_MAX_FRAME_BYTES),
  SOCKET_SLOW_CONSUMER_BYTES: count(1024 * 1024),
  SOCKET_FRAMES_PER_SECOND: count(50),
  SOCKET_HEAD_CHECK_MS: count(3_000),
  /** Subscriptions being set up (membership, replay) at once; more wait in line (a reconnect storm queues here, not in the services). */
  SOCKET_SUBSCRIBE_CONCURRENCY: count(32),
  /** Sockets one user may have open, across every node when REDIS_URL is set; more are refused at upgrade (429). */
  SOCKET_MAX_PER_USER: count(20),
  /** How often a node re-checks the sessions of its open sockets (closing ended ones with 4003) in case an event was lost. */
  SOCKET_SESSION_SWEEP_MS: count(5_000),
  /** Message sends per user per 10 s, shared with the edge's REST and tRPC sends (the same setting there). */
  RATE_SEND_PER_10S_USER: count(50),
  /** Run on uWebSockets.js's slow JavaScript fallback when the native binding cannot load. */
  UWS_ALLOW_FALLBACK: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
});
export type SocketEnv = z.infer<typeof socketEnv>;
