// Parley for the WebSocket scenarios: the distributed mode (startCluster of @parley/launch:
// every process its own, PostgreSQL + Redis, two message replicas and two socket
// nodes) shared by the ws-* scenarios of one `npm run bench` (it takes ~30 s to
// start on this machine), the all-in-one mode in a child process, and the users
// and rooms they need, made through the public REST API.
//
// Databases are `parley_bench_ws_<pid>_<n>_<service>`, Redis keys `parley_bench_ws_<pid>_<n>:`;
// both are removed when the cluster stops, and by an exit handler if the runner
// dies first (time limit, Ctrl-C).
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { processSpec, repoRoot, startCluster, type RunningCluster } from "@parley/launch";
import { BENCH_INTERNAL_SECRET, startTargetProcess, type TargetProcess } from "./target-process.js";
import { procCpuMs } from "./ws-proc.js";


export const POSTGRES_SERVER = process.env.PARLEY_BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
export const REDIS_URL = process.env.PARLEY_BENCH_REDIS_URL || "redis://127.0.0.1:6379";

/** Settings every Parley under test gets (besides its topology). */
export const PARLEY_BENCH_ENV: Record<string, string> = {
  // Production's level: every gRPC call logs a line (the children's output is read and dropped).
  LOG_LEVEL: "info",
  // Users are registered in bulk from one address.
  RATE_REGISTER_PER_HOUR: "1000000",
  RATE_LOGIN_PER_MINUTE: "1000000",
  // One owner sends every room's messages, and users hold many sockets: neither limit is measured here.
  RATE_SEND_PER_10S_USER: "1000000000",
  SOCKET_MAX_PER_USER: "1000000",
  // A room's owner invites every subscriber: far more writes than a person makes.
  RATE_WRITE_PER_10S_USER: "1000000000",
  RATE_READ_PER_10S_USER: "1000000000",
  // Tokens outlive the whole run (sockets are closed when theirs expires).
  ACCESS_TOKEN_TTL_SECONDS: "14400",
  SHUTDOWN_GRACE_MS: "2000",
  INTERNAL_AUTH_SECRET: BENCH_INTERNAL_SECRET,
};

let generation = 0;
const cleanups = new Map<string, () => void>();
/** Socket nodes this process started itself (quick topology, restarts): killed at exit. */
const startedNodes = new Set<number>();
process.on("exit", () => {
  for (const pid of startedNodes) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  for (const cleanup of cleanups.values()) cleanup();
});

/** A database name on the bench server for `base_<suffix>`. */
export function databaseUrl(name: string): string {
  const url = new URL(POSTGRES_SERVER);
  url.pathname = `/${name}`;
  return url.toString();
}

function psql(database: string, sql: string): string {
  const url = new URL(databaseUrl(database));
  const result = spawnSync(
    "psql",
    ["-h", url.hostname, "-p", url.port || "5432", "-U", decodeURIComponent(url.username) || "postgres", "-d", database, "-At", "-c", sql],
    { encoding: "utf8", timeout: 60_000, env: { ...process.env, ...(url.password && { PGPASSWORD: decodeURIComponent(url.password) }) } },
  );
  if (result.status !== 0) throw new Error(`psql ${database}: ${result.stderr || result.error?.message}`);
  return result.stdout.trim();
}

/** Drops every database of `base` and deletes the Redis keys under `prefix` (synchronously: usable at exit). */
function removeData(base: string, prefix: string): void {
  if (!/^parley_bench_ws_\w+$/.test(base)) return;
  try {
    const names = psql("postgres", `select datname from pg_database where datname like '${base}\\_%'`).split("\n").filter(Boolean);
    for (const name of names) psql("postgres", `drop database if exists "${name}" with (force)`);
  } catch (error) {
    console.error(`could not drop the databases of ${base}: ${(error as Error).message}`);
  }
  const redis = new URL(REDIS_URL);
  spawnSync("sh", ["-c", `redis-cli -h ${redis.hostname} -p ${redis.port || 6379} --scan --pattern '${prefix}*' | xargs -r -n 500 redis-cli -h ${redis.hostname} -p ${redis.port || 6379} del > /dev/null`], {
    timeout: 30_000,
  });
}

/** A fresh, unique database base name and Redis prefix for one Parley. */
export function freshNames(): { base: string; prefix: string } {
  const base = `parley_bench_ws_${process.pid}_${++generation}`;
  return { base, prefix: `${base}:` };
}

/** Registers the removal of `base`'s data at exit; returns the function that removes it now. */
export function ownData(base: string, prefix: string): () => void {
  const cleanup = () => {
    cleanups.delete(base);
    removeData(base, prefix);
  };
  cleanups.set(base, cleanup);
  return cleanup;
}

const uuidList = (ids: string[]) => {
  if (!ids.every((id) => /^[0-9a-f-]{36}$/i.test(id))) throw new Error("not room ids");
  return ids.map((id) => `'${id}'`).join(",");
};

/** `select count(*) from messages` in `<base>_message`, for the given rooms. */
export function countMessagesIn(base: string, rooms: string[]): number {
  return Number(psql(`${base}_message`, `select count(*) from messages where room_id in (${uuidList(rooms)})`));
}

/** The highest seq stored per room (0 for a room without messages). */
export function roomHeads(base: string, rooms: string[]): Record<string, number> {
  const heads: Record<string, number> = Object.fromEntries(rooms.map((r) => [r, 0]));
  const text = psql(`${base}_message`, `select room_id, max(seq) from messages where room_id in (${uuidList(rooms)}) group by room_id`);
  for (const line of text.split("\n").filter(Boolean)) {
    const [room, seq] = line.split("|");
    heads[room!] = Number(seq);
  }
  return heads;
}

export interface ParleyCluster {
  /** "distributed" (startCluster) or "light" (quick mode: all-in-one on Redis + one more socket node). */
  topology: "distributed" | "light";
  /** One line for the reports. */
  description: string;
  base: string;
  prefix: string;
  edge: string;
  /** Socket nodes: name, host, port, pid. */
  sockets: { name: string; host: string; port: number; pid: number; env: Record<string, string> }[];
  /** Every Parley process (not PostgreSQL or Redis). */
  pids(): number[];
  /** Parley's processes in groups for CPU reports ("socket nodes", "message", ...). */
  groups(): { name: string; pids: number[] }[];
  /** host:port of a message service instance. */
  messageAddress: string;
  /** Lines the children printed at warn level or above (the last 50). */
  problems: string[];
  /** Every such line counted by kind: "<process>: <message> [<code>] <error message>". */
  problemKinds: Map<string, number>;
  /** gRPC calls served, by "<instance> <method>" (from the services' per-call log lines, LOG_LEVEL=info). */
  calls: Map<string, number>;
  /** Socket nodes started again by a scenario (ws-storm): stopped with the cluster. */
  extraPids: Set<number>;
  /** Something killed or restarted a process: do not hand this cluster to another scenario. */
  damaged: boolean;
  /** Users registered so far (reused by the next scenario). */
  users: BenchUser[];
  stop(): Promise<void>;
}

let shared: { cluster: Promise<ParleyCluster>; users: number; quick: boolean; stopTimer?: NodeJS.Timeout } | undefined;

/**
 * The distributed Parley (2 message replicas, 2 socket nodes) shared by the ws-* scenarios
 * of this run: started on first use, stopped a few seconds after the last one releases it
 * (unless another acquires it first).
 */
export function acquireCluster(log: (line: string) => void, quick = false): Promise<ParleyCluster> {
  if (shared && shared.quick !== quick) {
    // Another topology is wanted: the old one goes now.
    const old = shared;
    shared = undefined;
    clearTimeout(old.stopTimer);
    void old.cluster.then((c) => c.stop());
  }
  if (shared) {
    clearTimeout(shared.stopTimer);
    shared.stopTimer = undefined;
    shared.users++;
    return shared.cluster;
  }
  const cluster = quick ? launchLight(log) : launchCluster(log);
  shared = { cluster, users: 1, quick };
  cluster.catch(() => (shared = undefined));
  return cluster;
}

/** Gives the shared cluster back; it stops if nobody takes it within 3 s, or now when `damaged`. */
export async function releaseCluster(cluster: ParleyCluster): Promise<void> {
  if (!shared) return cluster.stop();
  shared.users--;
  if (cluster.damaged) {
    shared = undefined;
    return cluster.stop();
  }
  if (shared.users > 0) return;
  const mine = shared;
  mine.stopTimer = setTimeout(() => {
    if (shared === mine) shared = undefined;
    void cluster.stop();
  }, 3_000);
}

async function launchCluster(log: (line: string) => void): Promise<ParleyCluster> {
  const { base, prefix } = freshNames();
  const remove = ownData(base, prefix);
  const problems: string[] = [];
  const problemKinds = new Map<string, number>();
  const calls = new Map<string, number>();
  log(`starting Parley's distributed mode (PostgreSQL ${base}_*, Redis prefix ${prefix}; 2 message replicas, 2 socket nodes; ~30 s)`);
  let running: RunningCluster;
  try {
    running = await startCluster({
      databaseUrl: databaseUrl(base),
      redisUrl: REDIS_URL,
      redisPrefix: prefix,
      ports: "free",
      messageReplicas: 2,
      socketReplicas: 2,
      env: PARLEY_BENCH_ENV,
      stopTimeoutMs: 10_000,
      output: (line) => {
        const method = /"method":"[\w.]+\/(\w+)"/.exec(line)?.[1];
        if (method) {
          const key = `${line.slice(0, line.indexOf("|")).trim()} ${method}`;
          calls.set(key, (calls.get(key) ?? 0) + 1);
        }
        if (/"level":(40|50|60)|exited on its own|could not start|Error/.test(line)) {
          problems.push(line.slice(0, 500));
          if (problems.length > 50) problems.shift();
          const kind = problemKind(line);
          problemKinds.set(kind, (problemKinds.get(kind) ?? 0) + 1);
        }
      },
    });
  } catch (error) {
    remove();
    throw error;
  }
  const extraPids = new Set<number>();
  const sockets = running.instances
    .filter((i) => i.process === "socket")
    .map((i) => {
      const [host, port] = i.address.split(":");
      return {
        name: i.name,
        host: host!,
        port: Number(port),
        pid: i.pid,
        env: { ...PARLEY_BENCH_ENV, PORT: port!, REDIS_URL, REDIS_PREFIX: prefix, NODE_ID: i.name, ...i.calls },
      };
    });
  let stopping: Promise<void> | undefined;
  const instancePids = (prefix: string) => running.instances.filter((i) => i.name.startsWith(prefix)).map((i) => i.pid);
  const cluster: ParleyCluster = {
    topology: "distributed",
    description:
      "the distributed mode (startCluster of @parley/launch: every process its own, PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379, 2 message replicas, 2 socket nodes)",
    base,
    prefix,
    edge: running.addresses.edge!,
    sockets,
    pids: () => [...running.instances.map((i) => i.pid), ...extraPids].filter((pid) => Number.isFinite(procCpuMs(pid))),
    groups: () => [
      { name: "socket nodes", pids: [...instancePids("socket"), ...extraPids] },
      { name: "message", pids: instancePids("message") },
      { name: "room", pids: instancePids("room") },
      { name: "auth+user+edge", pids: [...instancePids("auth"), ...instancePids("user"), ...instancePids("edge")] },
    ],
    messageAddress: running.addresses["message-1"] ?? running.addresses.message!,
    problems,
    problemKinds,
    calls,
    extraPids,
    damaged: false,
    users: [],
    stop: () =>
      (stopping ??= (async () => {
        for (const pid of extraPids) {
          try {
            process.kill(pid, "SIGTERM");
          } catch {
            // gone already
          }
        }
        await running.stop();
        for (const pid of extraPids) await waitForExit(pid, 5_000);
        remove();
      })()),
  };
  return cluster;
}

/**
 * Quick mode's Parley (startCluster takes 30-80 s here, too long for --quick): the all-in-one
 * process on PostgreSQL with the Redis broker for the services, and two socket node processes on
 * the same Redis and services, so the socket nodes' CPU is measured apart from the services'.
 */
async function launchLight(log: (line: string) => void): Promise<ParleyCluster> {
  const { base, prefix } = freshNames();
  const remove = ownData(base, prefix);
  log(`starting Parley all-in-one on PostgreSQL ${base}_* and Redis (prefix ${prefix}) plus a second socket node (quick mode)`);
  const env = { ...PARLEY_BENCH_ENV, DATABASE_URL: databaseUrl(base), BENCH_REDIS_URL: REDIS_URL, REDIS_PREFIX: prefix };
  let aio: TargetProcess;
  try {
    aio = await startTargetProcess({ name: "Parley all-in-one", module: new URL("../servers/ws-parley-all-in-one.ts", import.meta.url), env, startTimeoutMs: 120_000 });
  } catch (error) {
    remove();
    throw error;
  }
  const addresses = aio.info.addresses as Record<string, string>;
  const extraPids = new Set<number>();
  const nodeEnv = async (name: string) => ({
    ...PARLEY_BENCH_ENV,
    PORT: String(await freePort()),
    REDIS_URL,
    REDIS_PREFIX: prefix,
    NODE_ID: name,
    AUTH_SERVICE_ADDR: addresses.auth!,
    ROOM_SERVICE_ADDR: addresses.room!,
    MESSAGE_SERVICE_ADDR: addresses.message!,
  });
  const sockets = await Promise.all(
    ["socket-1", "socket-2"].map(async (name) => {
      const env = await nodeEnv(name);
      return { name, host: "127.0.0.1", port: Number(env.PORT), pid: 0, env };
    }),
  );
  let stopping: Promise<void> | undefined;
  const cluster: ParleyCluster = {
    topology: "light",
    description:
      "quick mode's topology: the all-in-one process (startParley: every service and the edge; its own socket node unused) on PostgreSQL with the Redis broker, plus 2 socket nodes in their own processes",
    base,
    prefix,
    edge: addresses.edge!,
    sockets,
    pids: () => [aio.pid, ...extraPids].filter((pid) => Number.isFinite(procCpuMs(pid))),
    groups: () => [
      { name: "socket nodes", pids: [...extraPids] },
      { name: "all-in-one (services)", pids: [aio.pid] },
    ],
    messageAddress: addresses.message!,
    problems: [],
    problemKinds: new Map(),
    calls: new Map(),
    extraPids,
    damaged: false,
    users: [],
    stop: () =>
      (stopping ??= (async () => {
        for (const pid of extraPids) {
          try {
            process.kill(pid, "SIGTERM");
          } catch {
            // gone already
          }
        }
        for (const pid of extraPids) await waitForExit(pid, 5_000);
        await aio.stop();
        remove();
      })()),
  };
  try {
    await Promise.all([startSocketNode(cluster, 0), startSocketNode(cluster, 1)]);
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** Starts socket node `index` (again) with its environment and port; resolves with its pid once /healthz answers. */
export async function startSocketNode(cluster: ParleyCluster, index: number): Promise<number> {
  const node = cluster.sockets[index]!;
  const child = spawn(process.execPath, ["--import", "tsx", processSpec("socket")!.entry], {
    cwd: repoRoot,
    env: { ...process.env, ...node.env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  cluster.extraPids.add(child.pid!);
  startedNodes.add(child.pid!);
  child.once("exit", () => startedNodes.delete(child.pid!));
  node.pid = child.pid!;
  const deadline = performance.now() + 60_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${node.name} exited with ${child.exitCode} when started`);
    try {
      const response = await fetch(`http://${node.host}:${node.port}/healthz`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return child.pid!;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${node.name} not healthy 60 s after it was started`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Waits until `pid` is gone; SIGKILL after `ms`. */
export async function waitForExit(pid: number, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  while (alive() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (alive()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

// ---- users and rooms, through the public REST API ----

export interface BenchUser {
  id: string;
  username: string;
  token: string;
}

async function rest<T>(edge: string, method: string, path: string, body?: unknown, token?: string): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`http://${edge}/api/v1${path}`, {
      method,
      headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (response.ok) return (text ? JSON.parse(text) : undefined) as T;
    if ((response.status === 503 || response.status === 429) && attempt < 5) {
      await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
      continue;
    }
    throw new Error(`${method} ${path}: HTTP ${response.status} ${text.slice(0, 300)}`);
  }
}

/** Registers `count` users (argon2id at OWASP's minimum cost: ~0.1-0.3 s each here), `parallel` at a time. */
export async function registerUsers(edge: string, count: number, tag: string, parallel = 4): Promise<BenchUser[]> {
  const users: BenchUser[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const n = next++;
      const username = `b${tag}_${n}`.slice(0, 32);
      const answer = await rest<{ user: { id: string }; accessToken: string }>(edge, "POST", "/auth/register", {
        email: `${username}@bench.example.com`,
        username,
        password: "bench password not secret",
      });
      users[n] = { id: answer.user.id, username, token: answer.accessToken };
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return users;
}

/** The users of a shared cluster, registering more if it has fewer than `count`. */
export async function clusterUsers(cluster: ParleyCluster, count: number): Promise<BenchUser[]> {
  if (cluster.users.length < count) {
    const more = await registerUsers(cluster.edge, count - cluster.users.length, `u${cluster.users.length}x`);
    cluster.users.push(...more);
  }
  return cluster.users.slice(0, count);
}

export async function createRooms(edge: string, owner: BenchUser, count: number, name: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const room = await rest<{ id: string }>(edge, "POST", "/rooms", { name: `${name}-${i}`, visibility: "public" }, owner.token);
    ids.push(room.id);
  }
  return ids;
}

/** Every (user, room) pair joins (skipping rooms the user owns), `parallel` at a time. */
export async function joinRooms(edge: string, pairs: { user: BenchUser; roomId: string }[], parallel = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < pairs.length) {
      const { user, roomId } = pairs[next++]!;
      await rest(edge, "POST", `/rooms/${roomId}/join`, {}, user.token);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** "<process>: <msg> [<code>] <err.message>" of a child's log line (pino JSON after "<process> | "), for counting. */
function problemKind(line: string): string {
  const bar = line.indexOf("|");
  const process = line.slice(0, bar).trim();
  try {
    const entry = JSON.parse(line.slice(bar + 1)) as { msg?: string; code?: string; method?: string; err?: { message?: string } };
    const method = entry.method?.split("/").at(-1);
    return `${process}: ${entry.msg ?? ""}${method ? ` ${method}` : ""}${entry.code ? ` [${entry.code}]` : ""}${entry.err?.message ? ` ${entry.err.message.slice(0, 100)}` : ""}`;
  } catch {
    return `${process}: ${line.slice(bar + 1, bar + 120).trim()}`;
  }
}

/** The most frequent kinds of warnings and errors the cluster logged, for a report's notes. */
export function problemSummary(cluster: ParleyCluster, top = 8): string | undefined {
  if (cluster.problemKinds.size === 0) return undefined;
  const kinds = [...cluster.problemKinds].sort(([, a], [, b]) => b - a);
  const total = kinds.reduce((sum, [, n]) => sum + n, 0);
  return `Parley logged ${total} warnings or errors; by kind: ${kinds
    .slice(0, top)
    .map(([kind, n]) => `${kind} ×${n}`)
    .join("; ")}${kinds.length > top ? `; and ${kinds.length - top} other kinds` : ""}.`;
}
