// Starts every Parley service in this process, each on its own port, talking
// gRPC over loopback: the all-in-one mode of `npm start`, and the harness of tests.
import {
  acquireLock,
  createBroker,
  createLogger,
  createRateLimiter,
  dialHost,
  freePort,
  generateInternalSecret,
  hostPort,
  runStopSteps,
  type Broker,
  type DataDirLock,
  type Launch,
  type LaunchedService,
  type Logger,
  type RateLimiter,
} from "@parley/kit";
import { launch as launchAuth } from "@parley/auth";
import { launch as launchEdge, launchSocket } from "@parley/edge";
import { launch as launchMessage } from "@parley/message";
import { launch as launchRoom } from "@parley/room";
import { launch as launchUser } from "@parley/user";

/**
 * In start order: a service is started after the services it calls, except room, which calls
 * message (unread counts) while message calls room (membership): message's address is needed
 * before it listens. The edge comes last because it tells the web app the socket tier's port.
 */
const SERVICES = [
  { name: "user", launch: launchUser, defaultPort: 3002 },
  { name: "room", launch: launchRoom, defaultPort: 3003 },
  { name: "message", launch: launchMessage, defaultPort: 3004 },
  { name: "auth", launch: launchAuth, defaultPort: 3001 },
  { name: "socket", launch: launchSocket, defaultPort: 3007 },
  { name: "edge", launch: launchEdge, defaultPort: 8080 },
] as const satisfies readonly { name: string; launch: Launch; defaultPort: number }[];

/** Services whose address an earlier service needs: with port 0 they get a port picked in advance. */
const NEEDED_BEFORE_START: ReadonlySet<string> = new Set(["message"]);

/** A port picked in advance can be taken (by another process, or by an outgoing connection) before it is bound. */
const START_ATTEMPTS = 3;

/** The port asked for a service: the option, else `<NAME>_PORT`, else its standard port (0: any free one). */
function wantedPort(options: StartOptions, { name, defaultPort }: { name: ServiceName; defaultPort: number }): number {
  const env = options.env ?? process.env;
  return options.ports?.[name] ?? Number(env[`${name.toUpperCase()}_PORT`] || defaultPort);
}

/** node:net says so in `code`; grpc-js only in its message ("... listen EADDRINUSE ..."). */
function isPortTaken(error: unknown): boolean {
  return (error as { code?: string })?.code === "EADDRINUSE" || /\bEADDRINUSE\b/.test((error as Error)?.message ?? "");
}

export type ServiceName = (typeof SERVICES)[number]["name"];
export const serviceNames: ServiceName[] = SERVICES.map((s) => s.name);

export interface StartOptions {
  /** Environment to read settings from (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** Ports per service; 0 picks a free one. Defaults to `<NAME>_PORT` or the standard port. */
  ports?: Partial<Record<ServiceName, number>>;
  /** Parent of the services' embedded databases; "memory://" keeps them in memory (tests). */
  dataDir?: string;
  /** Interface every service binds (default BIND_ADDRESS, else 127.0.0.1). */
  host?: string;
  log?: Logger;
}

export interface RunningParley {
  /** host:port of every service. */
  addresses: Record<ServiceName, string>;
  /** The process's broker (tests subscribe to it). */
  broker: Broker;
  /** The process's rate limiter (more edges and socket nodes of a test share it). */
  limiter: RateLimiter;
  stop(): Promise<void>;
}

export async function startParley(options: StartOptions = {}): Promise<RunningParley> {
  const env = options.env ?? process.env;
  const log = options.log ?? createLogger("parley", env.LOG_LEVEL);
  // Every service locks its own directory; this lock refuses a second all-in-one process at once,
  // before it opens any database (its first services would otherwise start and stop again).
  const root = dataRoot(options);
  const rootLock: DataDirLock | undefined =
    root === "memory://" || env.DATABASE_URL ? undefined : await acquireLock(`${root.replace(/\/+$/, "")}/parley.lock`, root);
  // Only a port picked in advance can be picked differently by another attempt.
  const picksInAdvance = SERVICES.some((service) => NEEDED_BEFORE_START.has(service.name) && wantedPort(options, service) === 0);
  for (let attempt = 1; ; attempt++) {
    try {
      const parley = await startOnce(options, log);
      if (!rootLock) return parley;
      return { ...parley, stop: () => parley.stop().finally(() => rootLock.release()) };
    } catch (error) {
      if (attempt >= START_ATTEMPTS || !picksInAdvance || !isPortTaken(error)) {
        await rootLock?.release();
        throw error;
      }
      log.warn({ err: error, attempt }, "a port picked in advance was taken meanwhile: starting again on other ports");
    }
  }
}

function dataRoot(options: StartOptions): string {
  return options.dataDir ?? (options.env ?? process.env).DATA_DIR ?? "./data";
}

async function startOnce(options: StartOptions, log: Logger): Promise<RunningParley> {
  // Every service of this process shares one internal credential key: made here unless the
  // operator set one (to call the services with `npm run admin-token` and buf curl).
  const env = { ...(options.env ?? process.env) };
  env.INTERNAL_AUTH_SECRET ||= generateInternalSecret();
  const host = options.host ?? (env.BIND_ADDRESS || "127.0.0.1");
  const root = dataRoot(options);
  const running: LaunchedService[] = [];
  // One broker for the whole process: in memory, or Redis with REDIS_URL.
  const broker = createBroker(env.REDIS_URL || undefined, log, env.REDIS_PREFIX || undefined);
  // One send budget per user whichever process takes the send (the edge or the socket tier).
  const limiter = createRateLimiter(env.REDIS_URL || undefined, log, env.REDIS_PREFIX || undefined);
  // Stop in reverse start order: callers before the services they call, the broker last.
  const stopAll = () =>
    runStopSteps(log, [
      ...[...running].reverse().map((s) => ({ name: s.name, stop: () => s.stop() })),
      { name: "rate limiter", stop: () => limiter.close() },
      { name: "broker", stop: () => broker.close() },
    ]);
  try {
    const addresses: Record<string, string> = {};
    const ports: Record<string, number> = {};
    for (const { name, defaultPort } of SERVICES) {
      ports[name] = wantedPort(options, { name, defaultPort });
      // Port 0: a service binds a free port itself when it starts, unless an earlier one must know it.
      if (ports[name] === 0 && NEEDED_BEFORE_START.has(name)) ports[name] = await freePort(host);
      if (ports[name] !== 0) addresses[name] = hostPort(dialHost(host), ports[name]);
    }
    for (const { name, launch } of SERVICES) {
      const dataDir = root === "memory://" ? root : `${root}/${name}`;
      // The web app learns the socket tier's port from the edge.
      // The socket tier accepts browsers of the web app the edge serves, on the edge's port.
      const serviceEnv =
        name === "edge"
          ? { SOCKET_PUBLIC_PORT: addresses.socket!.split(":").at(-1)!, ...env }
          : name === "socket" && ports.edge
            ? { PUBLIC_ORIGIN: `http://localhost:${ports.edge},http://127.0.0.1:${ports.edge}`, ...env }
            : env;
      const service = await launch({ env: serviceEnv, port: ports[name], host, dataDir, addresses: { ...addresses }, broker, limiter });
      running.push(service);
      addresses[name] = service.address;
      log.info({ process: name, listening: service.listening }, "started");
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const addresses = Object.fromEntries(running.map((s) => [s.name, s.address]));
  return { addresses: addresses as Record<ServiceName, string>, broker, limiter, stop: async () => void (await stopAll()) };
}
