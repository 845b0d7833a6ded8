// CPU time and memory of any process on this machine, read from /proc (Linux):
// the WebSocket scenarios measure servers, Parley's processes and the load
// generator's own processes the same way.
import { readdirSync, readFileSync } from "node:fs";

/** /proc counts CPU time in clock ticks of USER_HZ = 100 per second: 10 ms each. */
const MS_PER_TICK = 10;

/** User + system CPU time of a process (all its threads) so far, ms; NaN once it is gone. */
export function procCpuMs(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // After the command: state (0), ppid (1), ..., utime (11), stime (12).
    return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
  } catch {
    return Number.NaN;
  }
}

/** Resident set size, bytes; NaN once the process is gone. */
export function procRssBytes(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("VmRSS:"));
    return line ? Number(line.replace(/\D+/g, "")) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU time of several processes at one moment. */
export interface CpuSnapshot {
  wallMs: number;
  byPid: Map<number, number>;
}

export function cpuSnapshot(pids: number[]): CpuSnapshot {
  return { wallMs: performance.now(), byPid: new Map(pids.map((pid) => [pid, procCpuMs(pid)])) };
}

/** CPU time used between two snapshots by the given pids together, ms. */
export function cpuUsedMs(before: CpuSnapshot, after: CpuSnapshot, pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    const used = (after.byPid.get(pid) ?? Number.NaN) - (before.byPid.get(pid) ?? Number.NaN);
    if (Number.isFinite(used)) sum += used;
  }
  return sum;
}

/** Pids of the processes whose command name is `name` (from /proc/<pid>/comm). */
export function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === name) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/**
 * CPU time of a whole server that forks (PostgreSQL): its root process's own time and its
 * reaped children's (cutime, cstime), plus every live process of that name, ms.
 */
export function serverTreeCpuMs(name: string): number {
  let total = 0;
  for (const pid of pidsNamed(name)) {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      total += (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
      // The root (its parent is not the same server) also carries the time of its exited children.
      const parent = Number(fields[1]);
      let parentName = "";
      try {
        parentName = readFileSync(`/proc/${parent}/comm`, "utf8").trim();
      } catch {
        // no parent to read
      }
      if (parentName !== name) total += (Number(fields[13]) + Number(fields[14])) * MS_PER_TICK;
    } catch {
      // gone between the listing and the read
    }
  }
  return total;
}
