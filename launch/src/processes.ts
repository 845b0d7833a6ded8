// THE process table of Parley: every process, its default port, how its health is checked,
// what it calls, its database and env schema, the entry file it runs from as a process of its
// own, and its launch function to start it next to the others in one process. Everything that
// starts Parley reads it: the all-in-one process (npm start), the test harness, the local
// cluster (start:cluster), the image's entrypoint, the migration runner and the deployment tests.
// Start order is derived from `calls` (startOrder): a process starts after what it calls.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Launch } from "@parley/kit";

/** The repository root (launch/src/../..). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const PROCESS_NAMES = ["user", "room", "message", "notify", "auth", "socket", "edge"] as const;
export type ProcessName = (typeof PROCESS_NAMES)[number];

export interface ProcessSpec {
  name: ProcessName;
  /** The port it listens on by default (its PORT). */
  port: number;
  /** grpc: grpc.health.v1 on the port; http: GET /healthz answers 200. */
  health: "grpc" | "http";
  /** The services it calls: it needs their `<NAME>_SERVICE_ADDR`, so they start before it. */
  calls: readonly ProcessName[];
  /**
   * Processes whose address it hands to browsers: the edge tells the web app the socket tier's
   * port. Where it learns that address at start (one process: npm start, tests), they start first too.
   */
  tells?: readonly ProcessName[];
  /** Its own database (a module exporting initORM), relative to the repository root: it needs DATABASE_URL. */
  database?: string;
  /** The module (relative to the repository root) and export of its zod env schema. */
  envSchema: { module: string; exportName: string };
  /** Its entry file as a process of its own (image, cluster), relative to the repository root. */
  entry: string;
  /** Its launch function, to start it in this process (loaded on demand: a test of one service loads only that one). */
  launch: () => Promise<Launch>;
  /**
   * Settings it gets in one process (npm start, tests) from the processes started with it:
   * `addresses` of those started before it, `ports` asked for each (0: any free one).
   */
  together?: (started: { addresses: Partial<Record<ProcessName, string>>; ports: Partial<Record<ProcessName, number>> }) => NodeJS.ProcessEnv;
}

const portOf = (address: string) => address.split(":").at(-1)!;

const TABLE = [
  {
    name: "user",
    port: 3002,
    health: "grpc",
    calls: [],
    database: "services/user/src/db.ts",
    envSchema: { module: "services/user/src/env.ts", exportName: "userEnv" },
    entry: "services/user/src/main.ts",
    launch: async () => (await import("@parley/user")).launch,
  },
  {
    name: "room",
    port: 3003,
    health: "grpc",
    calls: ["user"],
    database: "services/room/src/db.ts",
    envSchema: { module: "services/room/src/env.ts", exportName: "roomEnv" },
    entry: "services/room/src/main.ts",
    launch: async () => (await import("@parley/room")).launch,
  },
  {
    name: "message",
    port: 3004,
    health: "grpc",
    calls: ["room", "user"],
    database: "services/message/src/db.ts",
    envSchema: { module: "services/message/src/env.ts", exportName: "messageEnv" },
    entry: "services/message/src/main.ts",
    launch: async () => (await import("@parley/message")).launch,
  },
  {
    // Notifications (issue 18): preferences, Web Push subscriptions, and the worker that notifies
    // (in the app, by Web Push, by email) once per (user, message, channel); every replica runs it.
    name: "notify",
    port: 3005,
    health: "grpc",
    calls: ["room", "message", "user"],
    database: "services/notify/src/db.ts",
    envSchema: { module: "services/notify/src/env.ts", exportName: "notifyEnv" },
    entry: "services/notify/src/main.ts",
    launch: async () => (await import("@parley/notify")).launch,
  },
  {
    name: "auth",
    port: 3001,
    health: "grpc",
    calls: ["user"],
    database: "services/auth/src/db.ts",
    envSchema: { module: "services/auth/src/env.ts", exportName: "authEnv" },
    entry: "services/auth/src/main.ts",
    launch: async () => (await import("@parley/auth")).launch,
  },
  {
    name: "socket",
    port: 3007,
    health: "http",
    calls: ["auth", "room", "message"],
    envSchema: { module: "edge/src/socket/env.ts", exportName: "socketEnv" },
    entry: "edge/src/socket/main.ts",
    launch: async () => (await import("@parley/edge")).launchSocket,
    // It accepts browsers of the web app the edge serves, on the edge's port (when it is known before it binds).
    together: ({ ports }) => (ports.edge ? { PUBLIC_ORIGIN: `http://localhost:${ports.edge},http://127.0.0.1:${ports.edge}` } : {}),
  },
  {
    name: "edge",
    port: 8080,
    health: "http",
    calls: ["auth", "user", "room", "message", "notify"],
    tells: ["socket"],
    envSchema: { module: "edge/src/env.ts", exportName: "edgeEnv" },
    entry: "edge/src/main.ts",
    launch: async () => (await import("@parley/edge")).launch,
    // The web app learns the socket tier's port from the edge.
    together: ({ addresses }) => (addresses.socket ? { SOCKET_PUBLIC_PORT: portOf(addresses.socket) } : {}),
  },
] as const satisfies readonly ProcessSpec[];

/** In table order (ties in the start order keep it). */
export const PROCESSES: readonly ProcessSpec[] = TABLE;

type Table = (typeof TABLE)[number];
/** The names `S` needs directly (what they call and tell browsers about), as a type. */
type Step<S extends ProcessName> = S | (Extract<Table, { name: S }> extends infer T ? (T extends { calls: readonly (infer C)[] } ? C : never) | (T extends { tells: readonly (infer D)[] } ? D : never) : never);
/** `S` and everything it needs, transitively (the table has 7 processes: 7 steps reach every one). */
export type Closure<S extends ProcessName> = Step<Step<Step<Step<Step<Step<Step<S>>>>>>> & ProcessName;

export function processSpec(name: string): ProcessSpec | undefined {
  return PROCESSES.find((p) => p.name === name);
}

/** Whether this checkout has the process (its entry file exists). */
export function isPresent(spec: Pick<ProcessSpec, "entry">, root = repoRoot): boolean {
  return existsSync(join(root, spec.entry));
}

/** `<NAME>_SERVICE_ADDR` of a service. */
export const addressVariable = (name: ProcessName) => `${name.toUpperCase()}_SERVICE_ADDR`;

/** The migration runner reads `<NAME>_DATABASE_URL`, falling back to DATABASE_URL. */
export const databaseVariable = (name: ProcessName) => `${name.toUpperCase()}_DATABASE_URL`;

/** What a process needs started before it: what it calls and what it tells browsers about. */
type Node<N extends string> = { name: N; calls: readonly N[]; tells?: readonly N[] };
const needs = <N extends string>(spec: Node<N>): N[] => [...spec.calls, ...(spec.tells ?? [])];

export class ProcessCycleError extends Error {
  constructor(readonly cycle: string[]) {
    super(`the process table has a cycle: ${cycle.join(" → ")} (a process starts after what it calls, so none of these can start first)`);
    this.name = "ProcessCycleError";
  }
}

/**
 * `names` and everything they need, transitively, in start order: each after what it calls (and
 * what it tells browsers about); of those whose needs have started, the first in the table goes
 * first. Throws ProcessCycleError naming the cycle when there is no such order, and an Error for
 * a name the table does not have.
 */
export function startOrder<S extends Node<string>>(table: readonly S[], names: readonly S["name"][] = table.map((s) => s.name)): S[] {
  type N = S["name"];
  const byName = new Map<N, S>(table.map((spec) => [spec.name, spec]));
  // The closure, depth first: a name met again on the current path closes a cycle.
  const state = new Map<N, "visiting" | "done">();
  const path: N[] = [];
  const visit = (name: N, from?: N) => {
    const spec = byName.get(name);
    if (!spec) throw new Error(`no process named "${name}"${from ? ` (${from} calls it)` : ""}; the table has ${table.map((s) => s.name).join(", ")}`);
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") throw new ProcessCycleError([...path.slice(path.indexOf(name)), name]);
    state.set(name, "visiting");
    path.push(name);
    for (const dependency of needs<N>(spec)) visit(dependency, name);
    path.pop();
    state.set(name, "done");
  };
  for (const name of names) visit(name);
  // Then the order: repeatedly the first process in the table whose needs have all started.
  const pending = table.filter((spec) => state.has(spec.name));
  const order: S[] = [];
  const started = new Set<N>();
  while (pending.length > 0) {
    const next = pending.findIndex((spec) => needs<N>(spec).every((dependency) => started.has(dependency)));
    const [spec] = pending.splice(next, 1);
    order.push(spec!);
    started.add(spec!.name);
  }
  return order;
}
