export { createLogger, type Logger } from "./logger.js";
export { ConfigError, env, parseEnv, serviceEnvShape } from "./config.js";
export { Code, ConnectError, FIELD_TRAILER, LIMIT_TRAILER, RETRY_AFTER_TRAILER, fail, type SizeLimit, toPublicError, type PublicError } from "./errors.js";
export { META, currentContext, requireUserId, runInContext, type CallContext } from "./context.js";
export { createGrpcServer, implement, type GrpcServer, type ServiceHandlers, type ServiceRegistration } from "./grpc-server.js";
export { DEFAULT_STREAM_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, asUser, createServiceClient, type ClientOptions } from "./grpc-client.js";
export { acquireLock, DataDirInUseError, lockDataDir, type DataDirLock, type LockHolder } from "./data-dir-lock.js";
export { dataAccess, DatabaseEncodingError, EntityRepository, openDatabase, serviceDatabaseUrl, type DataAccess, type DatabaseOptions, type Em, type Orm, type Unit } from "./db.js";
export { createRateLimiter, MemoryRateLimiter, RedisRateLimiter, type RateLimiter, type RateLimitResult } from "./rate-limit.js";
export { createRedis } from "./redis.js";
export { runStopSteps, stopOnSignals, type StopStep } from "./lifecycle.js";
export { hasVisibleCharacter, NUL_RULE, pathOfNul, rules, USERNAME_RULE } from "./rules.js";
export { toTimestamp } from "./time.js";
export { validate } from "./validate.js";
export {
  addressEnv,
  brokerFor,
  defineService,
  dialHost,
  hostPort,
  launched,
  limiterFor,
  presenceFor,
  runMain,
  type Launch,
  type LaunchOptions,
  type LaunchedService,
  type ServiceContext,
  type ServiceDefinition,
  type ServiceEnv,
} from "./launch.js";
export {
  createBroker,
  MemoryBroker,
  newEvent,
  publishCommitted,
  RedisBroker,
  topics,
  type Broker,
  type EventHandler,
  type EventPayload,
  type Outgoing,
  type Unsubscribe,
} from "./broker.js";
export { freePort } from "./net.js";
export { createPresenceStore, MemoryPresenceStore, RedisPresenceStore, type PresenceStore } from "./presence.js";
export {
  CREDENTIAL_HEADER,
  INTERNAL_AUDIENCE,
  InternalAuth,
  generateInternalSecret,
  internalCredentialInterceptor,
  internalSecretProblem,
  MAX_ADMIN_TOKEN_MINUTES,
  type VerifiedCaller,
} from "./internal-auth.js";
export {
  checkOutboundUrl,
  createOutboundAgents,
  createOutboundLookup,
  forbiddenAddressReason,
  isAllowedHost,
  OutboundRefused,
  parseAllowedHosts,
  parseIPv4,
  parseIPv6,
  type OutboundAgentOptions,
  type OutboundAgents,
  type OutboundProblem,
  type OutboundResolver,
  type OutboundRules,
  type RefusalFactory,
} from "./outbound.js";
export { fetchOutbound, OutboundFetchError, type OutboundFetchOptions, type OutboundResponse } from "./outbound-fetch.js";
