// Starts the edge: service clients, token verifier, rate limiter, HTTP server.
import { addressEnv, createLogger, InternalAuth, launched, limiterFor, parseEnv, type Launch } from "@parley/kit";
import type { EdgeDeps } from "./api/context.js";
import { createServiceClients } from "./api/services.js";
import { edgeEnv } from "./env.js";
import { createEdgeServer } from "./http.js";
import { loopbackOrigins, sessionStatesFor, verifierFor } from "./public-env.js";

export const launch: Launch = async (options) => {
  const { env, port, host, addresses } = options;
  const config = parseEnv(edgeEnv, { ...env, ...addressEnv(addresses), ...(port !== undefined && { PORT: String(port) }) });
  const log = createLogger("edge", config.LOG_LEVEL);
  const services = createServiceClients({
    auth: config.AUTH_SERVICE_ADDR,
    user: config.USER_SERVICE_ADDR,
    room: config.ROOM_SERVICE_ADDR,
    message: config.MESSAGE_SERVICE_ADDR,
    notify: config.NOTIFY_SERVICE_ADDR,
  }, new InternalAuth(config.INTERNAL_AUTH_SECRET, "edge"));
  const { limiter, stop: stopLimiter } = limiterFor(options, config.REDIS_URL, log, config.REDIS_PREFIX);
  const deps: EdgeDeps = {
    services,
    limiter,
    log,
    verifier: verifierFor(services.auth, config),
    sessions: sessionStatesFor(services.auth, config),
    limits: {
      registerPerAddress: config.RATE_REGISTER_PER_HOUR,
      loginPerAddress: config.RATE_LOGIN_PER_MINUTE,
      unsubscribePerAddress: config.RATE_UNSUBSCRIBE_PER_MINUTE,
      sendPerUser: config.RATE_SEND_PER_10S_USER,
      sendPerAddress: config.RATE_SEND_PER_10S_ADDRESS,
      readPerUser: config.RATE_READ_PER_10S_USER,
      searchPerUser: config.RATE_SEARCH_PER_10S_USER,
      writePerUser: config.RATE_WRITE_PER_10S_USER,
    },
  };
  const publicOrigins = [...(config.PUBLIC_ORIGIN ?? [])];
  const server = createEdgeServer({
    deps,
    log,
    corsOrigins: config.CORS_ORIGINS,
    publicOrigins,
    maxBodyBytes: config.MAX_BODY_BYTES,
    maxBatchSize: config.TRPC_MAX_BATCH_SIZE,
    trustProxy: config.TRUST_PROXY,
    webRoot: config.WEB_ROOT,
    publicSocketUrl: config.PUBLIC_SOCKET_URL,
    socketPublicPort: config.SOCKET_PUBLIC_PORT,
    internalSecret: config.INTERNAL_AUTH_SECRET,
  });
  const bindHost = host ?? config.BIND_ADDRESS;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, bindHost, () => resolve());
  });
  const bound = server.address() as { address: string; port: number };
  if (!config.PUBLIC_ORIGIN) publicOrigins.push(...loopbackOrigins(bound.port));
  return launched("edge", bound.address, bound.port, log, [
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
