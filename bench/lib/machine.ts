// The machine a benchmark ran on, as RESULTS.md records it.
import { readFileSync } from "node:fs";
import os from "node:os";

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
  /** 1-minute load average when the benchmark started: how busy the shared machine was. */
  loadAverage: number;
}

export function machineInfo(): MachineInfo {
  return {
    cores: os.availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) return line.slice(line.indexOf(":") + 1).trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? "unknown";
}

export function describeMachine(m: MachineInfo): string {
  return `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB memory, Node ${m.node}, ${m.os}; load average ${m.loadAverage} at start`;
}

export interface MachineCpuSample {
  /** CPU time all processes of the machine have used (user, nice, system, irq, softirq), ms. */
  busyMs: number;
  wallMs: number;
}

/** Machine-wide CPU time from /proc/stat (undefined where there is none). */
export function machineCpuSample(): MachineCpuSample | undefined {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields;
    // /proc/stat counts in USER_HZ, 100 per second on Linux.
    return { busyMs: (user + nice + system + irq + softirq) * 10, wallMs: performance.now() };
  } catch {
    return undefined;
  }
}

/** Cores kept busy between two samples by every process of the machine. */
export function machineCoresBusy(before: MachineCpuSample | undefined, after: MachineCpuSample | undefined): number {
  if (!before || !after) return Number.NaN;
  return (after.busyMs - before.busyMs) / (after.wallMs - before.wallMs);
}
