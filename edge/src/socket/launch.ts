// Starts a socket node: uWebSockets.js, token verifier, broker, presence store.
import { addressEnv, brokerFor, createLogger, createServiceClient, InternalAuth, launched, limiterFor, parseEnv, presenceFor, type Launch } from "@parley/kit";
import { AuthService } from "@parley/proto/auth/v1/auth_pb";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { sessionStatesFor, verifierFor } from "../public-env.js";
import { socketEnv } from "./env.js";
import { SocketNode } from "./node.js";
import { loadUws } from "./uws.js";

export const launch: Launch = async (options) => {
  const { env, port, host, addresses } = options;
  const config = parseEnv(socketEnv, { ...env, ...addressEnv(addresses), ...(port !== undefined && { PORT: String(port) }) });
  const log = createLogger("socket", config.LOG_LEVEL);
  const uws = loadUws(config.UWS_ALLOW_FALLBACK, log);
  const { broker, stop: stopBroker } = brokerFor(options, config.REDIS_URL, log, config.REDIS_PREFIX);
  const { limiter, stop: stopLimiter } = limiterFor(options, config.REDIS_URL, log, config.REDIS_PREFIX);
  const internalAuth = new InternalAuth(config.INTERNAL_AUTH_SECRET, "socket");
  const auth = createServiceClient(AuthService, config.AUTH_SERVICE_ADDR, { internalAuth });
  // Shared in one process (the notification worker reads it), else its own (Redis with REDIS_URL).
  const { presence, stop: stopPresence } = presenceFor(options, config.REDIS_URL, log, config.REDIS_PREFIX);
  const node = new SocketNode({
    uws,
    log,
    broker,
    presence,
    nodeId: config.NODE_ID,
    allowedOrigins: [...config.CORS_ORIGINS, ...(config.PUBLIC_ORIGIN ?? [])],
    internalSecret: config.INTERNAL_AUTH_SECRET,
    services: {
      rooms: createServiceClient(RoomService, config.ROOM_SERVICE_ADDR, { internalAuth }),
      messages: createServiceClient(MessageService, config.MESSAGE_SERVICE_ADDR, { internalAuth }),
    },
    verifier: verifierFor(auth, config),
    sessions: sessionStatesFor(auth, config),
    limiter,
    limits: {
      maxFrameBytes: config.SOCKET_MAX_FRAME_BYTES,
      slowConsumerBytes: config.SOCKET_SLOW_CONSUMER_BYTES,
      framesPerSecond: config.SOCKET_FRAMES_PER_SECOND,
      headCheckMs: config.SOCKET_HEAD_CHECK_MS,
      subscribeConcurrency: config.SOCKET_SUBSCRIBE_CONCURRENCY,
      maxSocketsPerUser: config.SOCKET_MAX_PER_USER,
      sessionSweepMs: config.SOCKET_SESSION_SWEEP_MS,
      sendsPer10sPerUser: config.RATE_SEND_PER_10S_USER,
    },
  });
  const bindAddress = host ?? config.BIND_ADDRESS;
  const bound = await node.listen(config.PORT, bindAddress);
  log.info({ nodeId: node.nodeId }, "socket node serving /ws");
  return launched("socket", bindAddress, bound, log, [
    { name: "sockets", stop: () => node.shutdown() },
    ...stopPresence,
    ...stopLimiter,
    ...stopBroker,
  ]);
};
