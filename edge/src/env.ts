import { env, serviceEnvShape } from "@parley/kit";
import { z } from "zod";
import { trustProxySetting } from "./api/proxy.js";
import { publicEnvShape } from "./public-env.js";

const count = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const edgeEnv = z.object({
  ...serviceEnvShape(8080),
  ...publicEnvShape("http://localhost:3000"),
  USER_SERVICE_ADDR: env.address("127.0.0.1:3002"),
  NOTIFY_SERVICE_ADDR: env.address("127.0.0.1:3005"),
  MAX_BODY_BYTES: count(64 * 1024),
  /** Behind proxies: how many hops (or which addresses) of X-Forwarded-For to believe (see api/proxy.ts). */
  TRUST_PROXY: trustProxySetting,
  /**
   * Where browsers open the WebSocket (told to the web app by GET /api/v1/config). Unset: the
   * public origin's host on SOCKET_PUBLIC_PORT, or that origin's /ws when the port is empty.
   */
  PUBLIC_SOCKET_URL: z.preprocess((v) => (v === "" ? undefined : v), z.string().url().optional()),
  SOCKET_PUBLIC_PORT: z.string().regex(/^\d{0,5}$/, "a port number, or empty for the same origin's /ws").default("3007"),
  /** The built web app. */
  WEB_ROOT: z.string().default("web/dist"),
  RATE_REGISTER_PER_HOUR: count(20),
  RATE_LOGIN_PER_MINUTE: count(30),
  /**
   * Email unsubscribe requests (no sign-in: the link's token) per client address per minute. A mail
   * provider's one-click POSTs (RFC 8058) come from its own servers, so this stays generous.
   */
  RATE_UNSUBSCRIBE_PER_MINUTE: count(60),
  RATE_SEND_PER_10S_USER: count(50),
  RATE_SEND_PER_10S_ADDRESS: count(200),
  /** Calls one tRPC batch may carry (the web app's client batches at most 10). */
  TRPC_MAX_BATCH_SIZE: count(25),
  /** Per user, every call counted (a batch is many calls): queries, searches, and writes other than sends. */
  RATE_READ_PER_10S_USER: count(300),
  RATE_SEARCH_PER_10S_USER: count(60),
  RATE_WRITE_PER_10S_USER: count(100),
});
export type EdgeEnv = z.infer<typeof edgeEnv>;
