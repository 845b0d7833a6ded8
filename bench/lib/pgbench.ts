// pgbench (the PostgreSQL client's load tool) as a baseline next to our own
// services: a custom script, N clients for a fixed time, every transaction's
// latency from its log, and the CPU time pgbench itself used.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { POSTGRES_URL } from "./postgres.js";
import { latencyHistogram, type Histogram } from "./stats.js";

export interface PgbenchResult {
  /** Transactions pgbench reports as processed (committed). */
  transactions: number;
  failed: number;
  /** pgbench's own "tps (without initial connection time)". */
  tps: number;
  /** Latency of every transaction, µs (from pgbench's per-transaction log). */
  latency: Histogram;
  /** CPU time of the pgbench process (user + system), ms. */
  cpuMs: number;
  /** Wall time of the whole pgbench command (connections included), ms. */
  wallMs: number;
  /** pgbench's "initial connection time": opening every connection, before the first transaction, ms. */
  connectMs: number;
  /** Time the transactions ran: pgbench's -T minus the initial connection time, ms. */
  measuredMs: number;
}

/** The pgbench binary: on PATH, or in a Debian PostgreSQL installation; undefined when there is none. */
export function findPgbench(): string | undefined {
  const candidates = ["pgbench"];
  try {
    for (const version of readdirSync("/usr/lib/postgresql").sort().reverse()) candidates.push(`/usr/lib/postgresql/${version}/bin/pgbench`);
  } catch {
    // not Debian's layout
  }
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ["--version"], { stdio: "ignore" });
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

export function pgbenchVersion(binary: string): string {
  return execFileSync(binary, ["--version"], { encoding: "utf8" }).trim();
}

/**
 * Runs `script` with `clients` connections for about `seconds` of transactions. pgbench's -T
 * counts the time it takes to open its connections (seconds for 64 of them on a busy machine,
 * when each new backend is a fork), so -T is `seconds` plus `connectAllowanceMs`, rounded up to
 * whole seconds; the rate is pgbench's own, over the time after the connections were open.
 */
export async function runPgbench(options: {
  binary: string;
  database: string;
  script: string;
  clients: number;
  seconds: number;
  /** Expected initial connection time (from an earlier run with as many clients), ms. */
  connectAllowanceMs?: number;
  /** pgbench threads (default: min(clients, 2)). */
  threads?: number;
}): Promise<PgbenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "parley-pgbench-"));
  try {
    const scriptFile = join(dir, "script.sql");
    writeFileSync(scriptFile, options.script);
    const url = new URL(POSTGRES_URL);
    const seconds = Math.max(1, Math.ceil(options.seconds + (options.connectAllowanceMs ?? 0) / 1000));
    const args = [
      "-h", url.hostname,
      "-p", url.port || "5432",
      "-U", decodeURIComponent(url.username || "postgres"),
      "-n", // no vacuum of pgbench's own tables (there are none)
      "-c", String(options.clients),
      "-j", String(options.threads ?? Math.min(options.clients, 2)),
      "-T", String(seconds),
      "-f", scriptFile,
      "-l", `--log-prefix=${join(dir, "tx")}`,
      options.database,
    ];
    // bash's `times` prints the CPU time of the shell's children (pgbench) when it has exited.
    const started = performance.now();
    const { stdout, stderr, code } = await new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve, reject) => {
      const child = spawn("bash", ["-c", 'PGPASSWORD="$PGBENCH_PASSWORD" "$0" "$@"; rc=$?; times >&2; exit $rc', options.binary, ...args], {
        env: { ...process.env, PGBENCH_PASSWORD: decodeURIComponent(url.password) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d));
      child.stderr.on("data", (d: Buffer) => (err += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), (seconds + 60) * 1000);
      child.once("error", reject);
      child.once("close", (code) => (clearTimeout(timer), resolve({ stdout: out, stderr: err, code })));
    });
    const wallMs = performance.now() - started;
    if (code !== 0) throw new Error(`pgbench exited with ${code}: ${stderr.trim().split("\n").slice(-5).join(" / ")}`);
    // No tps line: no transaction ran, the connections took the whole -T.
    if (!/tps = /.test(stdout)) throw new Error(`pgbench ran no transaction in ${seconds} s (connections too slow?): ${stdout.trim().split("\n").slice(-3).join(" / ")}`);
    const match = (pattern: RegExp) => {
      const m = pattern.exec(stdout);
      if (!m) throw new Error(`pgbench output without ${pattern}: ${stdout}`);
      return Number(m[1]);
    };
    const latency = latencyHistogram();
    for (const file of readdirSync(dir).filter((f) => f.startsWith("tx."))) {
      for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
        // client_id transaction_no time_us script_no time_epoch time_us_part
        const micros = Number(line.split(" ")[2]);
        if (Number.isFinite(micros) && micros > 0) latency.recordValue(micros);
      }
    }
    const times = stderr.trim().split("\n").slice(-2);
    const children = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(times[1] ?? "");
    const cpuMs = children ? (Number(children[1]) * 60 + Number(children[2]) + Number(children[3]) * 60 + Number(children[4])) * 1000 : Number.NaN;
    return {
      transactions: match(/number of transactions actually processed: (\d+)/),
      failed: /number of failed transactions: (\d+)/.exec(stdout) ? match(/number of failed transactions: (\d+)/) : 0,
      tps: match(/tps = ([\d.]+) \(without initial connection time\)/),
      latency,
      cpuMs,
      wallMs,
      connectMs: match(/initial connection time = ([\d.]+) ms/),
      measuredMs: seconds * 1000 - match(/initial connection time = ([\d.]+) ms/),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
