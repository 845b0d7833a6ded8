// What a benchmark scenario is: a name, a description and run(options) giving a table.

export interface BenchOptions {
  /** `--quick`: shorter runs (the whole quick suite must finish in under 5 minutes). */
  quick: boolean;
  /** Measured runs per configuration (at least 3: tables report their median, min and max). */
  runs: number;
  /** Length of one measured run. */
  durationMs: number;
  /** Warm-up before the measured runs of each target (JIT, connections, caches). */
  warmupMs: number;
  /** `--pin`: pin servers and the load generator to separate cores with taskset. */
  pin: boolean;
  /** Progress lines for the terminal (not written to RESULTS.md). */
  log(line: string): void;
}

export interface Column {
  key: string;
  title: string;
  align?: "left" | "right";
}

export type Row = Record<string, string | number>;

export interface ScenarioReport {
  columns: Column[];
  rows: Row[];
  /** How it was measured (durations, concurrency, pinning, payloads): listed above the table. */
  settings: string[];
  /** How to read the table, and what it says: listed below it. */
  notes: string[];
}

export interface Scenario {
  /** Command-line name and RESULTS.md section key, e.g. "grpc-getuser". */
  name: string;
  /** One line: what is measured. */
  description: string;
  run(options: BenchOptions): Promise<ScenarioReport>;
}

/** Steps that undo what a measurement started, registered as it goes. */
export type Cleanup = (() => Promise<void>)[];

/**
 * A scenario's run() for a measurement that registers cleanup steps as it starts things:
 * they run in reverse order whatever happens, and a failing step is logged, not thrown.
 */
export function withCleanup(measure: (options: BenchOptions, cleanup: Cleanup) => Promise<ScenarioReport>): Scenario["run"] {
  return async (options) => {
    const cleanup: Cleanup = [];
    try {
      return await measure(options, cleanup);
    } finally {
      for (const step of cleanup.reverse()) await step().catch((error: unknown) => options.log(`cleanup: ${String(error)}`));
    }
  };
}
