// Starts Parley's processes in this one process, each on its own port, talking gRPC over
// loopback: the all-in-one mode of `npm start`, and (with `services`) the test harness. The
// order comes from the process table: a process starts once what it calls listens, so every
// address it needs is known when it starts and no port is picked in advance.
import {
  acquireLock,
  createBroker,
  createLogger,
  generateInternalSecret,
  createRateLimiter,
  createPresenceStore,
  runStopSteps,
  type Broker,
  type DataDirLock,
  type LaunchedService,
  type Logger,
  type PresenceStore,
  type RateLimiter,
} from "@parley/kit";
import { PROCESS_NAMES, PROCESSES, startOrder, type Closure, type ProcessName } from "./processes.js";

export interface StartOptions<S extends ProcessName = ProcessName> {
  /** Only these processes and what they call (default: every one). */
  services?: readonly S[];
  /** Environment to read settings from (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** Ports per process; 0 lets it bind a free one. Defaults to `<NAME>_PORT` or its standard port. */
  ports?: Partial<Record<ProcessName, number>>;
  /** Parent of the services' embedded databases; "memory://" keeps them in memory (tests). */
  dataDir?: string;
  /** Interface every process binds (default BIND_ADDRESS, else 127.0.0.1). */
  host?: string;
  log?: Logger;
}

export interface RunningParley<S extends ProcessName = ProcessName> {
  /** host:port of every process started. */
  addresses: Record<S, string>;
  /** The process's broker (tests subscribe to it). */
  broker: Broker;
  /** The process's rate limiter (more edges and socket nodes of a test share it). */
  limiter: RateLimiter;
  /** The process's presence store (the socket tier writes it, the notification worker reads it). */
  presence: PresenceStore;
  stop(): Promise<void>;
}

/** The port asked for a process: the option, else `<NAME>_PORT`, else its standard port (0: any free one). */
function wantedPort(options: StartOptions, env: NodeJS.ProcessEnv, { name, port }: { name: ProcessName; port: number }): number {
  return options.ports?.[name] ?? Number(env[`${name.toUpperCase()}_PORT`] || port);
}

export async function startParley<S extends ProcessName = ProcessName>(options: StartOptions<S> = {}): Promise<RunningParley<Closure<S>>> {
  const env = options.env ?? process.env;
  const log = options.log ?? createLogger("parley", env.LOG_LEVEL);
  // Every service locks its own directory; this lock refuses a second all-in-one process at once,
  // before it opens any database (its first services would otherwise start and stop again).
  const root = options.dataDir ?? env.DATA_DIR ?? "./data";
  const rootLock: DataDirLock | undefined =
    root === "memory://" || env.DATABASE_URL ? undefined : await acquireLock(`${root.replace(/\/+$/, "")}/parley.lock`, root);
  try {
    const parley = await startAll(options, root, log);
    if (!rootLock) return parley;
    return { ...parley, stop: () => parley.stop().finally(() => rootLock.release()) };
  } catch (error) {
    await rootLock?.release();
    throw error;
  }
}

async function startAll<S extends ProcessName>(options: StartOptions<S>, root: string, log: Logger): Promise<RunningParley<Closure<S>>> {
  // Every process of this one shares one internal credential key: made here unless the operator
  // set one (to call the services with `npm run admin-token` and buf curl).
  const env = { ...(options.env ?? process.env) };
  env.INTERNAL_AUTH_SECRET ||= generateInternalSecret();
  const host = options.host ?? (env.BIND_ADDRESS || "127.0.0.1");
  const order = startOrder(PROCESSES, options.services ?? PROCESS_NAMES);
  const launches = await Promise.all(order.map((spec) => spec.launch()));
  const running: LaunchedService[] = [];
  // One broker for the whole process: in memory, or Redis with REDIS_URL.
  const broker = createBroker(env.REDIS_URL || undefined, log, env.REDIS_PREFIX || undefined);
  // One send budget per user whichever process takes the send (the edge or the socket tier).
  const limiter = createRateLimiter(env.REDIS_URL || undefined, log, env.REDIS_PREFIX || undefined);
  // One view of who is online: the socket tier records it, the notification worker asks it.
  const presence = createPresenceStore(env.REDIS_URL || undefined, log, env.REDIS_PREFIX || undefined);
  // Stop in reverse start order: callers before the services they call, the broker last.
  const stopAll = () =>
    runStopSteps(log, [
      ...[...running].reverse().map((s) => ({ name: s.name, stop: () => s.stop() })),
      { name: "rate limiter", stop: () => limiter.close() },
      { name: "presence", stop: () => presence.close() },
      { name: "broker", stop: () => broker.close() },
    ]);
  const wanted = Object.fromEntries(order.map((spec) => [spec.name, wantedPort(options, env, spec)])) as Partial<Record<ProcessName, number>>;
  const addresses: Partial<Record<ProcessName, string>> = {};
  try {
    for (const [index, spec] of order.entries()) {
      const dataDir = root === "memory://" ? root : `${root}/${spec.name}`;
      // What it learns from the processes started with it; the operator's settings win.
      const serviceEnv = { ...spec.together?.({ addresses, ports: wanted }), ...env };
      const service = await launches[index]!({ env: serviceEnv, port: wanted[spec.name], host, dataDir, addresses: { ...addresses }, broker, limiter, presence });
      running.push(service);
      addresses[spec.name] = service.address;
      log.info({ process: spec.name, listening: service.listening }, "started");
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return { addresses: addresses as Record<Closure<S>, string>, broker, limiter, presence, stop: async () => void (await stopAll()) };
}
