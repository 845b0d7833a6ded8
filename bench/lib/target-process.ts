// Servers under test run in child processes, so that the load generator (this
// process) and the server each have their own event loop and core, and each
// one's CPU time can be read apart. The child side is serveBenchTarget().
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { generateInternalSecret, InternalAuth } from "@parley/kit";

export interface CpuSample {
  /** CPU time (user + system) of the process so far, µs. */
  cpuMicros: number;
  /** The process's clock, ms. */
  wallMs: number;
}

/** CPU used between two samples of one process, as a fraction of one core. */
export function cpuBetween(before: CpuSample, after: CpuSample): number {
  return (after.cpuMicros - before.cpuMicros) / 1000 / (after.wallMs - before.wallMs);
}

/** The process's memory (process.memoryUsage()), bytes. */
export interface MemorySample {
  rss: number;
  heapUsed: number;
  /** Buffers and other memory outside the V8 heap (ArrayBuffers included). */
  external: number;
}

type ChildMessage =
  | { type: "ready"; address: string; info?: Record<string, unknown> }
  | { type: "failed"; message: string }
  | ({ type: "cpu"; id: number } & CpuSample)
  | ({ type: "memory"; id: number } & MemorySample);

type ParentMessage = { type: "cpu"; id: number } | { type: "memory"; id: number } | { type: "stop" };

export interface TargetProcess {
  name: string;
  address: string;
  /** What the child reported when it got ready (seeded ids, say). */
  info: Record<string, unknown>;
  pid: number;
  cpuSample(): Promise<CpuSample>;
  memorySample(): Promise<MemorySample>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
// Whatever happens to the runner, no server outlives it.
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** INTERNAL_AUTH_SECRET of every Parley process the bench starts; its clients sign with it. */
export const BENCH_INTERNAL_SECRET = generateInternalSecret();
export const benchInternalAuth = new InternalAuth(BENCH_INTERNAL_SECRET, "bench");

export async function startTargetProcess(options: {
  name: string;
  /** Module to run (a file that calls serveBenchTarget), e.g. new URL("../servers/grpc-echo.ts", import.meta.url). */
  module: URL;
  env?: Record<string, string>;
  /** Cores to pin the child to with taskset, e.g. "1". */
  cpus?: string;
  startTimeoutMs?: number;
}): Promise<TargetProcess> {
  const node = [process.execPath, "--import", import.meta.resolve("tsx"), fileURLToPath(options.module)];
  const [command, ...args] = options.cpus ? ["taskset", "-c", options.cpus, ...node] : node;
  const child = spawn(command!, args, {
    env: { ...process.env, INTERNAL_AUTH_SECRET: BENCH_INTERNAL_SECRET, ...options.env },
    // Server logs go nowhere (as cheap as a log collector's pipe); crashes still show.
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  live.add(child);
  child.once("exit", () => live.delete(child));

  const pending = new Map<number, (sample: CpuSample) => void>();
  const pendingMemory = new Map<number, (sample: MemorySample) => void>();
  let nextId = 0;
  child.on("message", (message: ChildMessage) => {
    if (message.type === "cpu") pending.get(message.id)?.(message), pending.delete(message.id);
    if (message.type === "memory") pendingMemory.get(message.id)?.(message), pendingMemory.delete(message.id);
  });

  const ready = await new Promise<Extract<ChildMessage, { type: "ready" }>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.name}: not ready after ${options.startTimeoutMs ?? 60_000} ms`)), options.startTimeoutMs ?? 60_000);
    child.on("message", (message: ChildMessage) => {
      if (message.type === "ready") clearTimeout(timer), resolve(message);
      if (message.type === "failed") clearTimeout(timer), reject(new Error(`${options.name}: ${message.message}`));
    });
    child.once("exit", (code) => (clearTimeout(timer), reject(new Error(`${options.name}: exited with code ${code} before it was ready`))));
  }).catch((error) => {
    child.kill("SIGKILL");
    throw error;
  });

  const send = (message: ParentMessage) => child.send(message);
  const cpuSample = () =>
    new Promise<CpuSample>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`${options.name}: no CPU sample`)), 5_000);
      pending.set(id, (sample) => (clearTimeout(timer), resolve(sample)));
      send({ type: "cpu", id });
    });
  const memorySample = () =>
    new Promise<MemorySample>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error(`${options.name}: no memory sample`)), 5_000);
      pendingMemory.set(id, (sample) => (clearTimeout(timer), resolve(sample)));
      send({ type: "memory", id });
    });
  return {
    name: options.name,
    address: ready.address,
    info: ready.info ?? {},
    pid: child.pid!,
    cpuSample,
    memorySample,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      send({ type: "stop" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** In the child: starts the server, tells the parent its address, answers CPU samples, stops on request. */
export async function serveBenchTarget(
  start: () => Promise<{ address: string; info?: Record<string, unknown>; stop(): Promise<void> }>,
): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) throw new Error("this is a benchmark target: bench/run.ts starts it");
  // The parent is gone (crashed, killed): go too, even if it went while this module was still loading.
  const exitIfOrphaned = () => {
    if (!process.connected) process.exit(0);
  };
  process.on("disconnect", exitIfOrphaned);
  setInterval(exitIfOrphaned, 1_000).unref();
  exitIfOrphaned();
  let target: Awaited<ReturnType<typeof start>>;
  try {
    target = await start();
  } catch (error) {
    send({ type: "failed", message: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies ChildMessage);
    process.exit(1);
  }
  process.on("message", (message: ParentMessage) => {
    if (message.type === "cpu") {
      const usage = process.cpuUsage();
      send({ type: "cpu", id: message.id, cpuMicros: usage.user + usage.system, wallMs: performance.now() } satisfies ChildMessage);
    } else if (message.type === "memory") {
      const { rss, heapUsed, external } = process.memoryUsage();
      send({ type: "memory", id: message.id, rss, heapUsed, external } satisfies ChildMessage);
    } else if (message.type === "stop") {
      const exit = () => process.exit(0);
      setTimeout(exit, 2_000).unref();
      target.stop().then(exit, exit);
    }
  });
  send({ type: "ready", address: target.address, info: target.info } satisfies ChildMessage);
}

/** With --pin: the load generator gets core 0, servers the others (nothing is pinned without --pin). */
export function pinning(cores: number): { client: string; servers: string } {
  return { client: "0", servers: cores > 2 ? `1-${cores - 1}` : "1" };
}
