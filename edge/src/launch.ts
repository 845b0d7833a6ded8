// Starts the edge: service clients, token verifier, rate limiter, HTTP server.
import { addressEnv, createLogger, launched, limiterFor, parseEnv, type Launch } from "@parley/kit";
import type { EdgeDeps } from "./api/context.js";
import { createServiceClients } from "./api/services.js";
import { edgeEnv } from "./env.js";
import { createEdgeServer } from "./http.js";
import { sessionStatesFor, verifierFor } from "./public-env.js";

export const launch: Launch = async (options) => {
  const { env, port, host, addresses } = options;
  const config = parseEnv(edgeEnv, { ...env, ...addressEnv(addresses), ...(port !== undefined && { PORT: String(port) }) });
  const log = createLogger("edge", config.LOG_LEVEL);
  const services = createServiceClients({
    auth: config.AUTH_SERVICE_ADDR,
    user: config.USER_SERVICE_ADDR,
    room: config.ROOM_SERVICE_ADDR,
    message: config.MESSAGE_SERVICE_ADDR,
  });
  const { limiter, stop: stopLimiter } = limiterFor(options, config.REDIS_URL, log, config.REDIS_PREFIX);
  const deps: EdgeDeps = {
    services,
    limiter,
    verifier: verifierFor(services.auth, config),
    sessions: sessionStatesFor(services.auth, config),
    limits: {
      registerPerAddress: config.RATE_REGISTER_PER_HOUR,
      loginPerAddress: config.RATE_LOGIN_PER_MINUTE,
      sendPerUser: config.RATE_SEND_PER_10S_USER,
      sendPerAddress: config.RATE_SEND_PER_10S_ADDRESS,
    },
  };
  const server = createEdgeServer({
    deps,
    log,
    corsOrigins: config.CORS_ORIGINS,
    maxBodyBytes: config.MAX_BODY_BYTES,
    trustProxy: config.TRUST_PROXY,
    webRoot: config.WEB_ROOT,
    publicSocketUrl: config.PUBLIC_SOCKET_URL,
    socketPublicPort: config.SOCKET_PUBLIC_PORT,
  });
  const bindHost = host ?? "0.0.0.0";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, bindHost, () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  return launched("edge", `${host ?? "127.0.0.1"}:${bound}`, log, [
    {
      name: "http",
      stop: () =>
        new Promise<void>((resolve) => {
          // Stop accepting, let requests in flight finish, then drop idle keep-alive connections.
          const timer = setTimeout(() => {
            server.closeAllConnections();
            resolve();
          }, config.SHUTDOWN_GRACE_MS);
          timer.unref();
          server.close(() => {
            clearTimeout(timer);
            resolve();
          });
          server.closeIdleConnections();
        }),
    },
    ...stopLimiter,
  ]);
};
