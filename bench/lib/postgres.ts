// PostgreSQL for the scenarios that need a real server (127.0.0.1:5432 on this
// machine): throwaway databases named `parley_bench_<scenario>_<pid>_*`, dropped
// afterwards, and the CPU time of the PostgreSQL server's processes.
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import type { BenchOptions, Scenario, ScenarioReport } from "./scenario.js";
import type { TargetProcess } from "./target-process.js";

/** The server the PostgreSQL scenarios use: $PARLEY_BENCH_DATABASE_URL or the local one. */
export const POSTGRES_URL = process.env.PARLEY_BENCH_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";

/** `postgres://…/name` on the bench server. */
export function databaseUrl(name: string): string {
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `parley_bench_<scenario>_<pid>`: the services append `_<service>` to it; every database of a run starts with it. */
export function benchDatabaseBase(scenario: string): string {
  return `parley_bench_${scenario.replace(/\W/g, "_")}_${process.pid}`;
}

export async function connect(database: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: databaseUrl(database), statement_timeout: 120_000 });
  // A connection ended by the server (its database dropped at the end of a run) must not crash the runner.
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** Runs `work` with a client on the server's maintenance database. */
export async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(new URL(POSTGRES_URL).pathname.slice(1) || "postgres");
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createDatabase(name: string): Promise<void> {
  await withAdmin((client) => client.query(`create database "${name}"`));
}

/** Drops every database of this run (name starts with `base`): only the bench's own. */
export async function dropBenchDatabases(base: string): Promise<string[]> {
  if (!/^parley_bench_\w+$/.test(base)) throw new Error(`not a bench database prefix: ${base}`);
  return withAdmin(async (client) => {
    const { rows } = await client.query<{ datname: string }>(
      `select datname from pg_database where datname = $1 or starts_with(datname, $2)`,
      [base, `${base}_`],
    );
    for (const { datname } of rows) await client.query(`drop database if exists "${datname}" with (force)`);
    return rows.map((r) => r.datname);
  });
}

/**
 * Databases left by an earlier run of this scenario that died before dropping them
 * (`parley_bench_<scenario>_<pid>_*` whose pid is no longer running): dropped too.
 */
export async function dropAbandonedBenchDatabases(scenario: string): Promise<string[]> {
  const prefix = `parley_bench_${scenario.replace(/\W/g, "_")}_`;
  const names = await withAdmin(async (client) => {
    const { rows } = await client.query<{ datname: string }>(`select datname from pg_database where starts_with(datname, $1)`, [prefix]);
    return rows.map((r) => r.datname);
  });
  const dropped: string[] = [];
  const pids = new Set(names.map((n) => Number(/^(\d+)/.exec(n.slice(prefix.length))?.[1])).filter((pid) => pid > 0 && pid !== process.pid));
  for (const pid of pids) {
    if (isRunning(pid)) continue;
    dropped.push(...(await dropBenchDatabases(`${prefix}${pid}`)));
  }
  return dropped;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Server version, e.g. "15.14". */
export async function serverVersion(): Promise<string> {
  return withAdmin(async (client) => (await client.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]!.v.split(" ")[0]!);
}

/** Settings that decide the cost of a commit, for the report. */
export async function commitSettings(): Promise<string> {
  return withAdmin(async (client) => {
    const { rows } = await client.query<{ name: string; setting: string; unit: string | null }>(
      `select name, setting, unit from pg_settings where name in ('synchronous_commit', 'fsync', 'wal_sync_method', 'commit_delay', 'shared_buffers', 'max_connections') order by name`,
    );
    return rows.map((r) => `${r.name}=${r.setting}${r.unit ? ` ${r.unit}` : ""}`).join(", ");
  });
}

/**
 * Transactions committed or rolled back so far by every database of the server except this
 * run's (`base*`): how busy others kept the shared server meanwhile (pg_stat_database, which
 * backends update about once a second).
 */
export async function otherDatabasesTransactions(base: string): Promise<number> {
  return withAdmin(async (client) => {
    const { rows } = await client.query<{ n: string | null }>(
      `select sum(xact_commit + xact_rollback) as n from pg_stat_database where datname is not null and not starts_with(datname, $1)`,
      [base],
    );
    return Number(rows[0]?.n ?? 0);
  });
}

/** Reads otherDatabasesTransactions now, and gives a note on the rate since then. */
export async function othersOnServer(base: string): Promise<() => Promise<string>> {
  const before = await otherDatabasesTransactions(base).catch(() => Number.NaN);
  const started = performance.now();
  return async () => {
    const after = await otherDatabasesTransactions(base).catch(() => Number.NaN);
    const perSecond = ((after - before) / (performance.now() - started)) * 1000;
    if (!Number.isFinite(perSecond)) return "Other databases' activity on the PostgreSQL server could not be read.";
    return `Meanwhile the other databases on the same PostgreSQL server ran ${perSecond < 10 ? perSecond.toFixed(1) : Math.round(perSecond).toLocaleString("en-US")} transactions/s (pg_stat_database, everything but this run's databases, which includes this runner's own maintenance connection): their CPU is in the PostgreSQL column too.`;
  };
}

// ---- CPU time of the PostgreSQL server -----------------------------------------------

export interface PostgresCpuSample {
  /** CPU time of the postmaster and every backend and helper it has (exited ones too), ms. */
  cpuMs: number;
  wallMs: number;
}

/** /proc counts CPU time in clock ticks of USER_HZ = 100 per second on Linux: 10 ms each. */
const MS_PER_TICK = 10;

/**
 * The postmaster's pid, found from a backend's parent (a few tries: the server may be busy);
 * undefined, with the reason given to `log`, where /proc cannot tell (PostgreSQL on another machine, say).
 */
export async function postmasterPid(log?: (line: string) => void): Promise<number | undefined> {
  let problem = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      // /proc is read while the connection is open: its backend exits with it.
      const [backend, fields] = await withAdmin(async (client) => {
        const pid = (await client.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid;
        return [pid, statFields(pid)] as const;
      });
      if (!fields) {
        problem = `no /proc/${backend} (PostgreSQL is not on this machine, or not visible from here)`;
        break;
      }
      if (statFields(fields[1]!)) return fields[1]!;
      problem = `no /proc/${fields[1]} for the postmaster`;
    } catch (error) {
      problem = String(error);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
  log?.(`PostgreSQL's CPU time will not be measured: ${problem}`);
  return undefined;
}

/**
 * CPU time of the whole PostgreSQL server: the postmaster's own, its exited children's
 * (cutime/cstime, counted when reaped) and its live children's. Every database's work is
 * in it, so others' queries on the same server count too.
 */
export function postgresCpuSample(postmaster: number | undefined): PostgresCpuSample | undefined {
  if (postmaster === undefined) return undefined;
  const own = statFields(postmaster);
  if (!own) return undefined;
  // Fields after the command: [state, ppid, ..., utime (11), stime (12), cutime (13), cstime (14)]
  let ticks = own[11]! + own[12]! + own[13]! + own[14]!;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields?.[1] === postmaster) ticks += fields[11]! + fields[12]! + fields[13]! + fields[14]!;
  }
  return { cpuMs: ticks * MS_PER_TICK, wallMs: performance.now() };
}

/** Share of one core the server used between two samples. */
export function postgresCpuBetween(before: PostgresCpuSample | undefined, after: PostgresCpuSample | undefined): number {
  if (!before || !after) return Number.NaN;
  return (after.cpuMs - before.cpuMs) / (after.wallMs - before.wallMs);
}

/** /proc/<pid>/stat after the command name, as numbers (index 0 is the state, which is NaN). */
function statFields(pid: number): number[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text
      .slice(text.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
  } catch {
    return undefined;
  }
}

/**
 * run() of a scenario with databases `<base>_*` of its own: drops those left by an earlier run that
 * died, then measures; afterwards, whatever happened, closes what `closers` holds (last first),
 * stops the servers and drops the databases.
 */
export function withBenchDatabases(
  scenario: string,
  measure: (options: BenchOptions, base: string, servers: TargetProcess[], closers: (() => Promise<void> | void)[]) => Promise<ScenarioReport>,
): Scenario["run"] {
  return async (options) => {
    const servers: TargetProcess[] = [];
    const closers: (() => Promise<void> | void)[] = [];
    const base = benchDatabaseBase(scenario);
    try {
      const dropped = await dropAbandonedBenchDatabases(scenario);
      if (dropped.length > 0) options.log(`dropped databases left by an earlier run that died: ${dropped.join(", ")}`);
      return await measure(options, base, servers, closers);
    } finally {
      for (const close of closers.reverse()) await close();
      await Promise.all(servers.map((s) => s.stop()));
      const dropped = await dropBenchDatabases(base).catch((error) => (options.log(`could not drop ${base}_*: ${String(error)}`), []));
      options.log(`dropped ${dropped.join(", ") || "nothing"}`);
    }
  };
}
