// `npm run start:cluster`: the distributed topology on one machine. Every process
// is its own child process (like a container), on PostgreSQL (DATABASE_URL) and
// Redis (REDIS_URL), with two message-service replicas, two socket nodes and two notify replicas. A
// process starts once what it calls is healthy (the process table's order); Ctrl-C or SIGTERM stops them
// in reverse order (SIGTERM, wait, SIGKILL after a grace period), then exits.
//
// Importable: `startCluster(options)` returns the addresses and a stop function.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { freePort, generateInternalSecret } from "@parley/kit";
import { checkGrpcHealth, checkHttp } from "./healthcheck.mjs";
import { addressVariable, isPresent, PROCESSES, repoRoot, startOrder, type ProcessName, type ProcessSpec } from "./processes.js";

export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/parley";
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

export interface ClusterOptions {
  /** PostgreSQL server and base name (each service uses `<base>_<service>`); default $DATABASE_URL or DEFAULT_DATABASE_URL. */
  databaseUrl?: string;
  /** Default $REDIS_URL or DEFAULT_REDIS_URL. */
  redisUrl?: string;
  /** Prefix of Redis keys and channels (default $REDIS_PREFIX or the services' own default). */
  redisPrefix?: string;
  /** Replicas of the message service (default 2). */
  messageReplicas?: number;
  /** Socket nodes (default 2). */
  socketReplicas?: number;
  /** Replicas of the notification service and its worker (default 2: they share the work through claims). */
  notifyReplicas?: number;
  /** "standard": the usual ports, replica n on port + 10*(n-1) (message 3004, 3014; socket 3007, 3017). "free": ports the OS picks (tests). */
  ports?: "standard" | "free";
  /** Interface the processes bind and their addresses use (default 127.0.0.1). */
  host?: string;
  /** INTERNAL_AUTH_SECRET of every process (default $INTERNAL_AUTH_SECRET, else a new one for this run). */
  internalSecret?: string;
  /** Extra environment for every child (LOG_LEVEL, say); the cluster's own variables win. */
  env?: NodeJS.ProcessEnv;
  /** Receives every line the children print, prefixed with the instance name (default: stdout). */
  output?: (line: string) => void;
  /** How long a process may take to become healthy (default 120 s: first starts create databases). */
  healthTimeoutMs?: number;
  /** How long a process may take to exit after SIGTERM before SIGKILL (default 20 s). */
  stopTimeoutMs?: number;
  /** Only these processes (and nothing else); default every process whose entrypoint exists. */
  only?: ProcessName[];
  /** Aborts a start under way: what started is stopped and startCluster rejects. */
  signal?: AbortSignal;
}

export interface ClusterInstance {
  /** "auth", or "message-2" for a replica. */
  name: string;
  process: ProcessName;
  /** host:port */
  address: string;
  pid: number;
  /** The `<NAME>_SERVICE_ADDR` values it was given. */
  calls: Record<string, string>;
}

export interface RunningCluster {
  instances: ClusterInstance[];
  /** The INTERNAL_AUTH_SECRET its processes share (to sign calls to them, or mint an admin token). */
  internalSecret: string;
  /** host:port by instance name ("message-2") and by process name (its first replica). */
  addresses: Record<string, string>;
  /** Processes not started because their entrypoint is not in this checkout. */
  skipped: ProcessName[];
  /** Stops every child (reverse start order); resolves when all have exited. */
  stop(): Promise<void>;
  /**
   * Kills one instance ("socket-1", "message-2") with `signal` (default SIGKILL, a crash) and
   * starts it again on the same port, as an orchestrator would; resolves once it is healthy.
   */
  restart(name: string, signal?: NodeJS.Signals): Promise<void>;
}

interface Planned {
  name: string;
  spec: ProcessSpec;
  port: number;
  address: string;
  child?: ChildProcess;
  exited?: Promise<number | null>;
  exitCode?: number | null;
  healthy?: boolean;
  stopping?: boolean;
  calls: Record<string, string>;
}

export async function startCluster(options: ClusterOptions = {}): Promise<RunningCluster> {
  const host = options.host ?? "127.0.0.1";
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  const redisPrefix = options.redisPrefix ?? process.env.REDIS_PREFIX;
  // One key per cluster run unless the operator brought one (to mint admin tokens for buf curl).
  const internalSecret = options.internalSecret ?? (options.env?.INTERNAL_AUTH_SECRET || process.env.INTERNAL_AUTH_SECRET || generateInternalSecret());
  const output = options.output ?? ((line: string) => process.stdout.write(`${line}\n`));
  const healthTimeoutMs = options.healthTimeoutMs ?? 120_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 20_000;
  const replicas: Partial<Record<ProcessName, number>> = {
    message: options.messageReplicas ?? 2,
    socket: options.socketReplicas ?? 2,
    notify: options.notifyReplicas ?? 2,
  };

  const wanted = PROCESSES.filter((p) => !options.only || options.only.includes(p.name));
  const present = wanted.filter((p) => isPresent(p));
  const skipped = wanted.filter((p) => !isPresent(p)).map((p) => p.name);
  // What each process waits for: what it calls (and tells browsers about) among those started here.
  const presentNames = new Set(present.map((p) => p.name));
  const needs = new Map(present.map((p) => [p.name, [...p.calls, ...(p.tells ?? [])].filter((n) => presentNames.has(n))]));
  // A cycle is an error here, before anything starts (and it names the cycle).
  startOrder(present.map((p) => ({ name: p.name, calls: needs.get(p.name)! })));

  // Every instance's port first: restart() brings an instance back on its port (its clients'
  // node lists name it). With "free", a port below the kernel's ephemeral range (freePort): one
  // a process got from listen(0) would lie in that range, where the local port of any outgoing
  // connection could take it while the instance is down. The start order needs none of this.
  const planned: Planned[] = [];
  for (const spec of present) {
    const count = Math.max(1, replicas[spec.name] ?? 1);
    for (let i = 0; i < count; i++) {
      const port = options.ports === "free" ? await freePort(host) : spec.port + 10 * i;
      planned.push({ name: count === 1 ? spec.name : `${spec.name}-${i + 1}`, spec, port, address: `${host}:${port}`, calls: {} });
    }
  }
  // A caller of a replicated service gets one replica, in turn, so that every replica takes traffic.
  const turn = new Map<ProcessName, number>();
  for (const instance of planned) {
    for (const target of instance.spec.calls) {
      const targets = planned.filter((p) => p.spec.name === target);
      if (targets.length === 0) continue; // not in this checkout: the process keeps its default address
      const next = turn.get(target) ?? 0;
      turn.set(target, next + 1);
      instance.calls[addressVariable(target)] = targets[next % targets.length]!.address;
    }
  }

  const started: Planned[][] = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const wave of [...started].reverse()) {
        await Promise.all(wave.map((instance) => stopInstance(instance, stopTimeoutMs)));
      }
      process.off("exit", killAll);
    })());
  const killAll = () => {
    for (const instance of planned) if (instance.child && instance.exitCode === undefined) instance.child.kill("SIGKILL");
  };
  // The children are in their own process groups (so that Ctrl-C reaches only this process, which
  // stops them in order): if this process dies without stopping them, they must not outlive it.
  process.on("exit", killAll);

  try {
    const healthy = new Set<ProcessName>();
    const remaining = new Set(present.map((p) => p.name));
    while (remaining.size > 0) {
      options.signal?.throwIfAborted();
      // Everything whose dependencies (present in this checkout) are healthy starts together.
      const ready = present.filter((p) => remaining.has(p.name) && needs.get(p.name)!.every((dep) => healthy.has(dep)));
      const wave = planned.filter((instance) => ready.includes(instance.spec));
      // The first replica of each process goes first: it creates the service's database and
      // runs its migrations (replicas racing to create a database can fail on a fresh server).
      const firsts = wave.filter((instance) => wave.find((other) => other.spec === instance.spec) === instance);
      for (const group of [firsts, wave.filter((instance) => !firsts.includes(instance))]) {
        if (group.length === 0) continue;
        started.push(group);
        for (const instance of group) {
          launchInstance(instance, { databaseUrl, redisUrl, redisPrefix, host, internalSecret, env: options.env ?? {}, output });
        }
        await Promise.all(group.map((instance) => waitHealthy(instance, healthTimeoutMs, output, options.signal)));
      }
      for (const spec of ready) {
        healthy.add(spec.name);
        remaining.delete(spec.name);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const addresses: Record<string, string> = {};
  for (const instance of planned) {
    addresses[instance.name] = instance.address;
    addresses[instance.spec.name] ??= instance.address;
  }
  const restart = async (name: string, signal: NodeJS.Signals = "SIGKILL") => {
    const instance = planned.find((p) => p.name === name);
    if (!instance?.child || !instance.exited) throw new Error(`no running instance named ${name}`);
    instance.stopping = true;
    instance.child.kill(signal);
    await instance.exited;
    Object.assign(instance, { stopping: false, healthy: false, exitCode: undefined });
    launchInstance(instance, { databaseUrl, redisUrl, redisPrefix, host, internalSecret, env: options.env ?? {}, output });
    await waitHealthy(instance, healthTimeoutMs, output);
  };
  return {
    internalSecret,
    instances: planned.map((p) => ({ name: p.name, process: p.spec.name, address: p.address, pid: p.child!.pid!, calls: p.calls })),
    addresses,
    skipped,
    stop,
    restart,
  };
}

interface LaunchSettings {
  databaseUrl: string;
  redisUrl: string;
  redisPrefix?: string;
  host: string;
  internalSecret: string;
  env: NodeJS.ProcessEnv;
  output: (line: string) => void;
}

function launchInstance(instance: Planned, settings: LaunchSettings): void {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...settings.env,
    PORT: String(instance.port),
    REDIS_URL: settings.redisUrl,
    ...(settings.redisPrefix && { REDIS_PREFIX: settings.redisPrefix }),
    BIND_ADDRESS: settings.host,
    INTERNAL_AUTH_SECRET: settings.internalSecret,
    ...instance.calls,
  };
  // Only the services with a database get its URL (least privilege, as in the manifests).
  if (instance.spec.database) env.DATABASE_URL = settings.databaseUrl;
  else delete env.DATABASE_URL;
  if (instance.spec.name === "socket") env.NODE_ID = instance.name;
  const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, instance.spec.entry)], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  instance.child = child;
  instance.exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      instance.exitCode = code ?? (signal ? 128 : null);
      // Reported, not restarted: a dead process in a dev cluster is something to look at.
      if (instance.healthy && !instance.stopping) {
        settings.output(`${prefix(instance.name)}[cluster] exited on its own (code ${code}, signal ${signal}); not restarted`);
      }
      resolve(instance.exitCode);
    });
    child.once("error", (error) => {
      settings.output(`${prefix(instance.name)}could not start: ${error.message}`);
      instance.exitCode = 127;
      resolve(127);
    });
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => settings.output(`${prefix(instance.name)}${line}`));
  }
}

const prefix = (name: string) => `${name.padEnd(10)}| `;

async function waitHealthy(instance: Planned, timeoutMs: number, output: (line: string) => void, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = "not answering yet";
  let warnedNoHealthz = false;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (instance.exitCode !== undefined) {
      throw new Error(`${instance.name} exited with code ${instance.exitCode} before it was healthy`);
    }
    try {
      if (instance.spec.health === "grpc") {
        const status = await checkGrpcHealth(instance.address, { timeoutMs: 1_000 });
        if (status === "SERVING") return void (instance.healthy = true);
        lastProblem = status;
      } else {
        const status = await checkHttp(`http://${instance.address}/healthz`, { timeoutMs: 1_000 });
        if (status === 200) return void (instance.healthy = true);
        if (status === 404) {
          // Up, but without the /healthz the manifests' probes need: say so, and go on.
          if (!warnedNoHealthz) output(`${prefix(instance.name)}[cluster] warning: GET /healthz answered 404; the probes need it`);
          warnedNoHealthz = true;
          return void (instance.healthy = true);
        }
        lastProblem = `HTTP ${status}`;
      }
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${instance.name} (${instance.address}) was not healthy within ${timeoutMs} ms: ${lastProblem}`);
}

async function stopInstance(instance: Planned, timeoutMs: number): Promise<void> {
  const { child, exited } = instance;
  if (!child || !exited || instance.exitCode !== undefined) return;
  instance.stopping = true;
  child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, timeoutMs);
  });
  await Promise.race([exited, killed]);
  clearTimeout(timer);
  await exited;
}

async function main(): Promise<void> {
  const say = (line: string) => process.stdout.write(`${prefix("cluster")}${line}\n`);
  const databaseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const redisUrl = process.env.REDIS_URL || DEFAULT_REDIS_URL;
  say(`PostgreSQL ${redactPassword(databaseUrl)}, Redis ${redactPassword(redisUrl)}`);
  const abort = new AbortController();
  const starting = startCluster({ databaseUrl, redisUrl, signal: abort.signal });

  let stopping = false;
  /** Stops every process (after the start, if one is under way), then exits 0. */
  const shutdown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    say(`${reason}: stopping every process`);
    abort.abort(new Error(reason));
    void starting
      .then((cluster) => cluster.stop(), () => undefined) // a failed start has stopped what it started
      .then(() => {
        say("every process has exited");
        process.exit(0);
      });
  };
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // Ctrl-C reaches every process of the terminal's foreground group, and npm (or a wrapper)
    // passes it on as well: the same keypress may arrive twice. Only a later one means "now".
    if (firstSignalAt && Date.now() - firstSignalAt < 1_000) return;
    if (firstSignalAt) {
      say(`second ${signal}: killing every process now`);
      process.exit(1); // the exit handler SIGKILLs the children
    }
    firstSignalAt = Date.now();
    shutdown(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // `kill <npm's pid>` ends npm and its shell without passing the signal on: a parent that goes
  // away (this process is re-parented) counts as SIGTERM, so no orphaned cluster keeps running.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && shutdown("parent process exited"), 1_000).unref();

  let cluster: RunningCluster;
  try {
    cluster = await starting;
  } catch (error) {
    if (stopping) return; // stopped while starting: shutdown() finishes the job
    say(`could not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  if (stopping) return;
  say("started:");
  for (const instance of cluster.instances) {
    const calls = Object.entries(instance.calls)
      .map(([variable, address]) => `${variable.replace("_SERVICE_ADDR", "").toLowerCase()}→${address}`)
      .join(" ");
    say(`  ${instance.name.padEnd(10)} ${instance.address.padEnd(16)} pid ${String(instance.pid).padEnd(8)} ${calls}`);
  }
  if (cluster.skipped.length) say(`not started (no entrypoint in this checkout): ${cluster.skipped.join(", ")}`);
  say(`Parley is running: http://${cluster.addresses.edge ?? "(no edge)"} — Ctrl-C stops it`);
}

function redactPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
