// The subscriber swarm: bulk subscriber sockets spread over several load-generator
// processes (lib/ws-swarm-worker.ts), so that neither the file-descriptor limit of
// one process nor one event loop caps the generator. Each socket only counts what
// it receives (and, one in `sampleEvery`, timestamps it); the runner asks the
// processes for totals over IPC. The processes never outlive the runner.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as hdr from "hdr-histogram-js";
import { latencyHistogram, type Histogram } from "./stats.js";
import { clock, type Dialect, type Endpoint } from "./ws-subscriber.js";
import type { SocketPlan, SwarmCommand, WorkerCollected, WorkerStatus } from "./ws-swarm-worker.js";

export interface SwarmSocket {
  rooms: string[];
  token?: string;
  sample: boolean;
  /** Index of the endpoint it connects to first (default 0). */
  endpoint?: number;
}

export interface Collected {
  sockets: number;
  live: number;
  received: number;
  missing: number;
  extra: number;
  socketsMissing: number;
  gaps: number;
  duplicates: number;
  behindHead: number;
  latency: Histogram;
  negative: number;
  errors: Map<string, number>;
  firstErrors: string[];
}

export interface SwarmStatus {
  sockets: number;
  live: number;
  reconnects: number;
  failedAttempts: number;
  lastLiveAtMs: number;
  lastLostAtMs: number;
  liveByEndpoint: number[];
}

type Unsent<T> = T extends { id: number } ? Omit<T, "id"> : never;

interface Worker {
  child: ChildProcess;
  pending: Map<number, { resolve(value: unknown): void; reject(error: Error): void }>;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export class Swarm {
  private nextId = 0;

  private constructor(private readonly workers: Worker[]) {}

  /** Starts `processes` generator processes (pinned to `cpus` with taskset when given) and aligns their clocks. */
  static async start(options: { processes: number; cpus?: string }): Promise<Swarm> {
    const module = fileURLToPath(new URL("./ws-swarm-worker.ts", import.meta.url));
    const workers: Worker[] = [];
    for (let i = 0; i < options.processes; i++) {
      const node = [process.execPath, "--import", import.meta.resolve("tsx"), module];
      const [command, ...args] = options.cpus ? ["taskset", "-c", options.cpus, ...node] : node;
      const child = spawn(command!, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
      live.add(child);
      const worker: Worker = { child, pending: new Map() };
      child.on("message", (message: { t: string; id: number; result?: unknown; error?: string }) => {
        const waiting = worker.pending.get(message.id);
        if (!waiting) return;
        worker.pending.delete(message.id);
        if (message.error) waiting.reject(new Error(`generator process ${child.pid}: ${message.error}`));
        else waiting.resolve(message.result);
      });
      child.once("exit", (code, signal) => {
        live.delete(child);
        for (const waiting of worker.pending.values()) waiting.reject(new Error(`generator process ${child.pid} exited (${code ?? signal})`));
        worker.pending.clear();
      });
      workers.push(worker);
    }
    const swarm = new Swarm(workers);
    await swarm.calibrate();
    return swarm;
  }

  get pids(): number[] {
    return this.workers.map((w) => w.child.pid!);
  }

  private ask<T>(worker: Worker, command: Unsent<SwarmCommand>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      worker.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.child.send({ ...command, id });
    });
  }

  private all<T>(command: Unsent<SwarmCommand>): Promise<T[]> {
    return Promise.all(this.workers.map((w) => this.ask<T>(w, command)));
  }

  /** Each process's clock offset from this one's, from the IPC round trip with the least delay. */
  private async calibrate(): Promise<void> {
    for (const worker of this.workers) {
      let best = { rtt: Number.POSITIVE_INFINITY, offset: 0 };
      for (let i = 0; i < 25; i++) {
        const before = clock.nowUs();
        const theirs = await this.ask<number>(worker, { t: "clock" });
        const after = clock.nowUs();
        if (after - before < best.rtt) best = { rtt: after - before, offset: (before + after) / 2 - theirs };
      }
      await this.ask(worker, { t: "offset", offsetUs: Math.round(best.offset) });
    }
  }

  /** Connects and subscribes `sockets` (spread over the processes in turn); resolves when all are live or failed, or at the timeout. */
  async connect(
    set: string,
    dialect: Dialect,
    endpoints: Endpoint[],
    sockets: SwarmSocket[],
    options: { concurrency: number; reconnect?: boolean; expectedCloses?: number[]; subscribeRetries?: number; timeoutMs: number },
  ): Promise<{ live: number; failed: number; ms: number }> {
    const tokens = [...new Set(sockets.map((s) => s.token).filter((t): t is string => t !== undefined))];
    const tokenIndex = new Map(tokens.map((t, i) => [t, i]));
    const plans: SocketPlan[][] = this.workers.map(() => []);
    sockets.forEach((s, i) => {
      plans[i % this.workers.length]!.push({ rooms: s.rooms, token: s.token === undefined ? undefined : tokenIndex.get(s.token), sample: s.sample, endpoint: s.endpoint ?? 0 });
    });
    const started = performance.now();
    const results = await Promise.all(
      this.workers.map((w, i) =>
        this.ask<{ live: number; failed: number; ms: number }>(w, {
          t: "connect",
          set,
          dialect,
          endpoints,
          tokens,
          sockets: plans[i]!,
          concurrency: Math.max(1, Math.ceil(options.concurrency / this.workers.length)),
          reconnect: options.reconnect ?? false,
          subscribeRetries: options.subscribeRetries ?? 0,
          expectedCloses: options.expectedCloses ?? [],
          timeoutMs: options.timeoutMs,
        }),
      ),
    );
    return { live: sum(results, (r) => r.live), failed: sum(results, (r) => r.failed), ms: performance.now() - started };
  }

  async reset(set: string): Promise<void> {
    await this.all({ t: "reset", set });
  }

  /** Waits until every socket has at least `expected[room]` messages of each of its rooms; false at the timeout. */
  async awaitDeliveries(set: string, expected: Record<string, number>, timeoutMs: number): Promise<boolean> {
    const results = await this.all<{ done: boolean }>({ t: "await", set, expected, timeoutMs });
    return results.every((r) => r.done);
  }

  async collect(set: string, expected?: Record<string, number>, heads?: Record<string, number>): Promise<Collected> {
    const parts = await this.all<WorkerCollected>({ t: "collect", set, expected, heads });
    const latency = latencyHistogram();
    const errors = new Map<string, number>();
    for (const part of parts) {
      const h = hdr.decodeFromCompressedBase64(part.latency);
      latency.add(h);
      h.destroy();
      for (const [kind, n] of part.errors) errors.set(kind, (errors.get(kind) ?? 0) + n);
    }
    return {
      sockets: sum(parts, (p) => p.sockets),
      live: sum(parts, (p) => p.live),
      received: sum(parts, (p) => p.received),
      missing: sum(parts, (p) => p.missing),
      extra: sum(parts, (p) => p.extra),
      socketsMissing: sum(parts, (p) => p.socketsMissing),
      gaps: sum(parts, (p) => p.gaps),
      duplicates: sum(parts, (p) => p.duplicates),
      behindHead: sum(parts, (p) => p.behindHead),
      latency,
      negative: sum(parts, (p) => p.negative),
      errors,
      firstErrors: parts.flatMap((p) => p.firstErrors).slice(0, 5),
    };
  }

  async status(set: string): Promise<SwarmStatus> {
    const parts = await this.all<WorkerStatus>({ t: "status", set });
    const liveByEndpoint: number[] = [];
    for (const p of parts) p.liveByEndpoint.forEach((n, i) => (liveByEndpoint[i] = (liveByEndpoint[i] ?? 0) + (n ?? 0)));
    return {
      sockets: sum(parts, (p) => p.sockets),
      live: sum(parts, (p) => p.live),
      reconnects: sum(parts, (p) => p.reconnects),
      failedAttempts: sum(parts, (p) => p.failedAttempts),
      lastLiveAtMs: Math.max(...parts.map((p) => p.lastLiveAtMs)),
      lastLostAtMs: Math.max(...parts.map((p) => p.lastLostAtMs)),
      liveByEndpoint,
    };
  }

  /** Drops (without a close frame) every socket of `set` currently on endpoint `endpoint`. */
  async drop(set: string, endpoint: number): Promise<void> {
    await this.all({ t: "drop", set, endpoint });
  }

  async close(set: string): Promise<void> {
    await this.all({ t: "close", set });
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
            w.child.once("exit", () => resolve());
            w.child.disconnect();
            setTimeout(() => w.child.kill("SIGKILL"), 3_000).unref();
          }),
      ),
    );
  }
}

function sum<T>(items: T[], value: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += value(item);
  return total;
}
