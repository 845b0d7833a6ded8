// How a service starts, the same way in its own process (main.ts) and next to
// the others in the all-in-one process: read config, open resources, listen.
import { createBroker, type Broker } from "./broker.js";
import { ConfigError, parseEnv } from "./config.js";
import type { GrpcServer } from "./grpc-server.js";
import { InternalAuth } from "./internal-auth.js";
import { DataDirInUseError } from "./data-dir-lock.js";
import { createLogger, type Logger } from "./logger.js";
import { runStopSteps, stopOnSignals, type StopStep } from "./lifecycle.js";
import { createRateLimiter, type RateLimiter } from "./rate-limit.js";
import { createPresenceStore, type PresenceStore } from "./presence.js";
import type { z } from "zod";

export interface LaunchOptions {
  /** Environment to read the service's settings from. */
  env: NodeJS.ProcessEnv;
  /** Overrides PORT (0 picks a free port). */
  port?: number;
  /** Overrides BIND_ADDRESS. */
  host?: string;
  /** Overrides `<DATA_DIR>/<service>`; "memory://" for a throwaway embedded database. */
  dataDir?: string;
  /** host:port of services started earlier in this process, by name, overriding `<NAME>_SERVICE_ADDR`. */
  addresses?: Record<string, string>;
  /** The process's broker, shared by services launched together; otherwise the service makes its own. */
  broker?: Broker;
  /**
   * The process's rate limiter, shared like the broker: without Redis, the edge and the socket
   * tier of one process must count one user's sends in one place.
   */
  limiter?: RateLimiter;
  /**
   * The process's presence store, shared like the broker: without Redis, the socket tier records
   * who is online and the notification worker (issue 18) must read the same store.
   */
  presence?: PresenceStore;
}

export interface LaunchedService {
  name: string;
  /** host:port where a process on this machine reaches it (loopback when it listens on every interface). */
  address: string;
  /** host:port it is bound to, as logged (0.0.0.0:3001 listens on every interface). */
  listening: string;
  /** Stops it in order: stop accepting and drain calls, then close what it uses. */
  stop(): Promise<void>;
}

export type Launch = (options: LaunchOptions) => Promise<LaunchedService>;

/** Env overrides for addresses of services launched in the same process. */
export function addressEnv(addresses: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(Object.entries(addresses).map(([name, address]) => [`${name.toUpperCase()}_SERVICE_ADDR`, address]));
}

/** The shared broker, or a new one (from REDIS_URL) with the stop step that closes it. */
export function brokerFor(
  options: LaunchOptions,
  redisUrl: string | undefined,
  log: Logger,
  redisPrefix?: string,
): { broker: Broker; stop: StopStep[] } {
  if (options.broker) return { broker: options.broker, stop: [] };
  const broker = createBroker(redisUrl, log, redisPrefix);
  return { broker, stop: [{ name: "broker", stop: () => broker.close() }] };
}

/** The shared rate limiter, or a new one (Redis with REDIS_URL) with the stop step that closes it. */
export function limiterFor(
  options: LaunchOptions,
  redisUrl: string | undefined,
  log: Logger,
  redisPrefix?: string,
): { limiter: RateLimiter; stop: StopStep[] } {
  if (options.limiter) return { limiter: options.limiter, stop: [] };
  const limiter = createRateLimiter(redisUrl, log, redisPrefix);
  return { limiter, stop: [{ name: "rate limiter", stop: () => limiter.close() }] };
}

/** The shared presence store, or a new one (Redis with REDIS_URL) with the stop step that closes it. */
export function presenceFor(
  options: LaunchOptions,
  redisUrl: string | undefined,
  log: Logger,
  redisPrefix?: string,
): { presence: PresenceStore; stop: StopStep[] } {
  if (options.presence) return { presence: options.presence, stop: [] };
  const presence = createPresenceStore(redisUrl, log, redisPrefix);
  return { presence, stop: [{ name: "presence", stop: () => presence.close() }] };
}

/** host:port, with brackets around an IPv6 address. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The host a client on this machine dials for a server bound to `host`: a wildcard address means loopback. */
export function dialHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::" || host === "[::]") return "localhost";
  return host;
}

/** Builds the LaunchedService of a service bound to host:port from its stop steps, and logs where it listens. */
export function launched(name: string, host: string, port: number, log: Logger, steps: StopStep[]): LaunchedService {
  const listening = hostPort(host, port);
  log.info({ listening }, `${name} listening on ${listening}`);
  return { name, address: hostPort(dialHost(host), port), listening, stop: async () => void (await runStopSteps(log, steps)) };
}

/** What every service's env schema gives (serviceEnvShape). */
export interface ServiceEnv {
  PORT: number;
  BIND_ADDRESS: string;
  INTERNAL_AUTH_SECRET: string;
  DATA_DIR: string;
  REDIS_URL?: string;
  REDIS_PREFIX: string;
  LOG_LEVEL: string;
  SHUTDOWN_GRACE_MS: number;
}

/** What a service's `open` gets: its parsed config and what the process gives it. */
export interface ServiceContext<Config> {
  config: Config;
  log: Logger;
  /** Signs the service's calls to others (as its name) and verifies the calls it serves. */
  internalAuth: InternalAuth;
  /** The process's broker, or one of the service's own (from REDIS_URL, made on first use, closed last). */
  broker(): Broker;
  /** The process's presence store, or one of the service's own (made on first use, closed last). */
  presence(): PresenceStore;
  /** Its embedded database's directory: the launch option, else `<DATA_DIR>/<name>`. */
  dataDir: string;
}

/** A gRPC service as the bootstrap helper starts it: only what differs between services. */
export interface ServiceDefinition<Config extends ServiceEnv, Deps> {
  name: string;
  /** Its env schema (serviceEnvShape plus its own variables). */
  env: z.ZodType<Config>;
  /** Opens what it uses (database, clients of other services); `close` releases all of it. */
  open(context: ServiceContext<Config>): Promise<Deps & { close(): Promise<void> }>;
  /** Its unstarted gRPC server over those dependencies. */
  build(deps: Deps, internalAuth: InternalAuth): GrpcServer;
}

/**
 * The one bootstrap of every gRPC service, in its own process (main.ts) and in the all-in-one
 * process alike: parse the env (launch options override PORT and the addresses of services
 * started earlier), open the dependencies, listen, and stop in order (stop accepting and drain
 * calls, close the dependencies, then the broker it made). A failed start releases what it opened.
 */
export function defineService<Config extends ServiceEnv, Deps>(definition: ServiceDefinition<Config, Deps>): Launch {
  const { name } = definition;
  return async (options) => {
    const { env, port, host, dataDir, addresses } = options;
    const config = parseEnv(definition.env, { ...env, ...addressEnv(addresses), ...(port !== undefined && { PORT: String(port) }) });
    const log = createLogger(name, config.LOG_LEVEL);
    const internalAuth = new InternalAuth(config.INTERNAL_AUTH_SECRET, name);
    let made: { broker: Broker; stop: StopStep[] } | undefined;
    const broker = () => (made ??= brokerFor(options, config.REDIS_URL, log, config.REDIS_PREFIX)).broker;
    let madePresence: { presence: PresenceStore; stop: StopStep[] } | undefined;
    const presence = () => (madePresence ??= presenceFor(options, config.REDIS_URL, log, config.REDIS_PREFIX)).presence;
    const stopBroker = async () => {
      for (const step of madePresence?.stop ?? []) await step.stop();
      for (const step of made?.stop ?? []) await step.stop();
    };
    let deps: (Deps & { close(): Promise<void> }) | undefined;
    try {
      deps = await definition.open({ config, log, internalAuth, broker, presence, dataDir: dataDir ?? `${config.DATA_DIR}/${name}` });
      const opened = deps;
      const server = definition.build(opened, internalAuth);
      const bindAddress = host ?? config.BIND_ADDRESS;
      const bound = await server.listen(config.PORT, bindAddress);
      return launched(name, bindAddress, bound, log, [
        { name: "grpc", stop: () => server.shutdown(config.SHUTDOWN_GRACE_MS) },
        { name: "dependencies", stop: () => opened.close() },
        { name: "broker", stop: stopBroker },
      ]);
    } catch (error) {
      await deps?.close().catch((closeError: unknown) => log.error({ err: closeError }, "could not close after a failed start"));
      await stopBroker();
      throw error;
    }
  };
}

/** main.ts of a service: launch with process.env, exit 78 on bad config, 1 if its data dir is in use, stop on SIGTERM/SIGINT. */
export async function runMain(name: string, launch: Launch): Promise<void> {
  const log = createLogger(name, process.env.LOG_LEVEL);
  try {
    // launched() logs the address it is bound to.
    const service = await launch({ env: process.env });
    stopOnSignals(log, [{ name, stop: () => service.stop() }]);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${name}: ${error.message}\n`);
      process.exit(78);
    }
    if (error instanceof DataDirInUseError) {
      process.stderr.write(`${name}: ${error.message}\n`);
      process.exit(1);
    }
    log.fatal({ err: error }, "could not start");
    process.exit(1);
  }
}
