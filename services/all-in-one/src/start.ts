// Starts every Parley service in this process, each on its own port, talking
// gRPC over loopback: the all-in-one mode of `npm start`, and the harness of tests.
import { createBroker, createLogger, freePort, runStopSteps, type Broker, type Launch, type LaunchedService, type Logger } from "@parley/kit";
import { launch as launchAuth } from "@parley/auth";
import { launch as launchEdge, launchSocket } from "@parley/edge";
import { launch as launchMessage } from "@parley/message";
import { launch as launchRoom } from "@parley/room";
import { launch as launchUser } from "@parley/user";

/** In start order: a service is started after the services it calls. */
const SERVICES = [
  { name: "user", launch: launchUser, defaultPort: 3002 },
  { name: "room", launch: launchRoom, defaultPort: 3003 },
  { name: "message", launch: launchMessage, defaultPort: 3004 },
  { name: "auth", launch: launchAuth, defaultPort: 3001 },
  { name: "edge", launch: launchEdge, defaultPort: 8080 },
  { name: "socket", launch: launchSocket, defaultPort: 3007 },
] as const satisfies readonly { name: string; launch: Launch; defaultPort: number }[];

export type ServiceName = (typeof SERVICES)[number]["name"];
export const serviceNames: ServiceName[] = SERVICES.map((s) => s.name);

export interface StartOptions {
  /** Environment to read settings from (defaults to process.env). */
  env?: NodeJS.ProcessEnv;
  /** Ports per service; 0 picks a free one. Defaults to `<NAME>_PORT` or the standard port. */
  ports?: Partial<Record<ServiceName, number>>;
  /** Parent of the services' embedded databases; "memory://" keeps them in memory (tests). */
  dataDir?: string;
  host?: string;
  log?: Logger;
}

export interface RunningParley {
  /** host:port of every service. */
  addresses: Record<ServiceName, string>;
  /** The process's broker (tests subscribe to it). */
  broker: Broker;
  stop(): Promise<void>;
}

export async function startParley(options: StartOptions = {}): Promise<RunningParley> {
  const env = options.env ?? process.env;
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? createLogger("parley", env.LOG_LEVEL);
  const root = options.dataDir ?? env.DATA_DIR ?? "./data";
  const running: LaunchedService[] = [];
  // One broker for the whole process: in memory, or Redis with REDIS_URL.
  const broker = createBroker(env.REDIS_URL || undefined, log, env.REDIS_PREFIX || undefined);
  // Stop in reverse start order: callers before the services they call, the broker last.
  const stopAll = () =>
    runStopSteps(log, [
      ...[...running].reverse().map((s) => ({ name: s.name, stop: () => s.stop() })),
      { name: "broker", stop: () => broker.close() },
    ]);
  try {
    // Every address is known before anything starts: services may call each other both ways.
    const addresses: Record<string, string> = {};
    const ports: Record<string, number> = {};
    for (const { name, defaultPort } of SERVICES) {
      const wanted = options.ports?.[name] ?? Number(env[`${name.toUpperCase()}_PORT`] || defaultPort);
      ports[name] = wanted === 0 ? await freePort(host) : wanted;
      addresses[name] = `${host}:${ports[name]}`;
    }
    for (const { name, launch } of SERVICES) {
      const dataDir = root === "memory://" ? root : `${root}/${name}`;
      // The web app learns the socket tier's port from the edge.
      const serviceEnv = name === "edge" ? { SOCKET_PUBLIC_PORT: String(ports.socket), ...env } : env;
      const service = await launch({ env: serviceEnv, port: ports[name], host, dataDir, addresses, broker });
      running.push(service);
      log.info({ process: name, address: service.address }, "started");
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const addresses = Object.fromEntries(running.map((s) => [s.name, s.address]));
  return { addresses: addresses as Record<ServiceName, string>, broker, stop: async () => void (await stopAll()) };
}

