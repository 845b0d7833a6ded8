// Closed-loop load: a fixed number of calls in flight for a fixed time, each
// worker starting its next call when the previous one ends.
import { latencyHistogram, type Histogram } from "./stats.js";

export interface LoadResult {
  /** Calls that succeeded. */
  calls: number;
  errors: number;
  firstError?: unknown;
  /** From the first call to the end of the last one (calls started before the deadline finish). */
  elapsedMs: number;
  /** Latency of successful calls, µs. */
  latency: Histogram;
  /** CPU time of this process (the load generator) during the run, as a fraction of one core. */
  clientCpu: number;
}

/** Runs `call(i)` with `concurrency` calls in flight for `durationMs`. */
export async function closedLoop(options: {
  concurrency: number;
  durationMs: number;
  call: (i: number) => Promise<unknown>;
}): Promise<LoadResult> {
  const latency = latencyHistogram();
  let calls = 0;
  let errors = 0;
  let firstError: unknown;
  let next = 0;
  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const stopAt = started + options.durationMs;
  const worker = async () => {
    while (performance.now() < stopAt) {
      const t0 = performance.now();
      try {
        await options.call(next++);
        latency.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        calls++;
      } catch (error) {
        errors++;
        firstError ??= error;
        // A failing target must not spin: errors are reported, not measured.
        if (errors > 1000) break;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  return { calls, errors, firstError, elapsedMs, latency, clientCpu: (cpu.user + cpu.system) / 1000 / elapsedMs };
}
