import { env, serviceEnvShape } from "@parley/kit";
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from "@parley/auth/claims";
import { z } from "zod";

const count = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const socketEnv = z.object({
  ...serviceEnvShape(3007),
  AUTH_SERVICE_ADDR: env.address("127.0.0.1:3001"),
  ROOM_SERVICE_ADDR: env.address("127.0.0.1:3003"),
  MESSAGE_SERVICE_ADDR: env.address("127.0.0.1:3004"),
  AUTH_ISSUER: z.string().min(1).default(DEFAULT_ISSUER),
  AUTH_AUDIENCE: z.string().min(1).default(DEFAULT_AUDIENCE),
  /** Comma-separated browser origins allowed to open sockets besides the node's own host. */
  CORS_ORIGINS: z
    .string()
    .default("http://localhost:3000,http://localhost:8080,http://127.0.0.1:8080")
    .transform((v) => v.split(",").map((o) => o.trim()).filter(Boolean)),
  /** Identifies this node in logs and presence (default: random per start). */
  NODE_ID: z.string().regex(/^[\w.-]{1,64}$/).optional(),
  SOCKET_MAX_FRAME_BYTES: count(16 * 1024),
  SOCKET_SLOW_CONSUMER_BYTES: count(1024 * 1024),
  SOCKET_FRAMES_PER_SECOND: count(50),
  SOCKET_HEAD_CHECK_MS: count(3_000),
  /** Run on uWebSockets.js's slow JavaScript fallback when the native binding cannot load. */
  UWS_ALLOW_FALLBACK: z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
});
export type SocketEnv = z.infer<typeof socketEnv>;
