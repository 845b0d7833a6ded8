// npm run bench [-- [--quick] [scenario ...]]: runs benchmark scenarios, prints
// their tables and writes each one's section of bench/RESULTS.md.
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { markdownTable, seconds } from "./lib/format.js";
import { describeMachine, machineInfo } from "./lib/machine.js";
import { writeResultsSection } from "./lib/results.js";
import type { BenchOptions, ScenarioReport } from "./lib/scenario.js";
import { pinning } from "./lib/target-process.js";
import { scenarios } from "./scenarios/index.js";

const RESULTS_FILE = fileURLToPath(new URL("./RESULTS.md", import.meta.url));
/** The whole run stops here, whatever hangs: quick mode is promised to take under 5 minutes. */
// Full: every scenario (the WebSocket sweeps take ~30 min of it) with room to spare on a busy machine.
const TIME_LIMIT_MS = { quick: 5 * 60_000, full: 75 * 60_000 };

const USAGE = `usage: npm run bench -- [options] [scenario ...]   (no scenario: all of them)

  --quick            short runs (2 s each, 1 s warm-up); whole run under 5 minutes; prints, does not write RESULTS.md
  --runs N           measured runs per configuration (default 3; fewer is never written to RESULTS.md)
  --duration S       seconds per measured run (default 5, quick 2)
  --warmup S         seconds of warm-up per target (default 2, quick 1)
  --pin              pin servers and the load generator to separate cores (taskset)
  --write            write RESULTS.md in quick mode too      --no-write   never write it
  --list             list the scenarios

scenarios:
${scenarios.map((s) => `  ${s.name.padEnd(18)} ${s.description}`).join("\n")}`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    duration: { type: "string" },
    warmup: { type: "string" },
    pin: { type: "boolean", default: false },
    write: { type: "boolean" },
    "no-write": { type: "boolean", default: false },
    list: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help || values.list) {
  console.log(values.help ? USAGE : scenarios.map((s) => `${s.name}\t${s.description}`).join("\n"));
  process.exit(0);
}

const unknown = positionals.filter((name) => !scenarios.some((s) => s.name === name));
if (unknown.length > 0) {
  console.error(`unknown scenario: ${unknown.join(", ")}\n\n${USAGE}`);
  process.exit(2);
}
const selected = positionals.length > 0 ? scenarios.filter((s) => positionals.includes(s.name)) : scenarios;

const number = (text: string | undefined, name: string, fallback: number) => {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} must be a positive number`);
    process.exit(2);
  }
  return value;
};
const quick = values.quick;
const options: BenchOptions = {
  quick,
  runs: Math.round(number(values.runs, "runs", 3)),
  durationMs: number(values.duration, "duration", quick ? 2 : 5) * 1000,
  warmupMs: number(values.warmup, "warmup", quick ? 1 : 2) * 1000,
  pin: values.pin,
  log: (line) => console.log(`  [${seconds(performance.now())}] ${line}`),
};
const write = !values["no-write"] && (values.write ?? !quick) && options.runs >= 3;

const command = commandLine();
const machine = machineInfo();
console.log(`${command}\n${describeMachine(machine)}\n`);

const limit = quick ? TIME_LIMIT_MS.quick : TIME_LIMIT_MS.full;
setTimeout(() => {
  console.error(`bench: stopped after ${seconds(limit)} (time limit of ${quick ? "quick" : "full"} mode)`);
  process.exit(1); // the exit handler of lib/target-process kills the servers
}, limit).unref();
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130));

if (options.pin) {
  const { client } = pinning(availableParallelism());
  execFileSync("taskset", ["-a", "-pc", client, String(process.pid)], { stdio: "ignore" });
}

const startedAll = performance.now();
let failed = false;
for (const scenario of selected) {
  console.log(`== ${scenario.name}: ${scenario.description}`);
  const date = new Date();
  const started = performance.now();
  let report: ScenarioReport;
  try {
    report = await scenario.run(options);
  } catch (error) {
    failed = true;
    console.error(`${scenario.name} failed:`, error);
    continue;
  }
  const wall = performance.now() - started;
  const table = markdownTable(report.columns, report.rows);
  console.log(`\n${table}\n\n${report.notes.map((n) => `- ${n}`).join("\n")}\n\n${scenario.name} took ${seconds(wall)}\n`);
  if (report.notes.some((n) => n.startsWith("ERRORS"))) failed = true;
  if (write) {
    writeResultsSection(
      RESULTS_FILE,
      scenario.name,
      [
        `## ${scenario.name}`,
        "",
        `${scenario.description}.`,
        "",
        `- Command: \`${command}\` (from the repository root)`,
        `- Date: ${date.toISOString().slice(0, 16).replace("T", " ")} UTC; this scenario took ${seconds(wall)}`,
        `- Machine: ${describeMachine(machine)}`,
        ...report.settings.map((s) => `- ${s}`),
        "",
        table,
        "",
        ...report.notes.map((n) => `- ${n}`),
      ].join("\n"),
    );
    console.log(`wrote the ${scenario.name} section of bench/RESULTS.md`);
  }
}
console.log(`bench: done in ${seconds(performance.now() - startedAll)}${write ? "" : " (RESULTS.md not written: quick mode, fewer than 3 runs, or --no-write)"}`);
process.exit(failed ? 1 : 0);

/** How this run was started, to be repeated exactly. */
function commandLine(): string {
  const args = process.argv.slice(2).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`));
  if (process.env.npm_lifecycle_event === "bench") return args.length ? `npm run bench -- ${args.join(" ")}` : "npm run bench";
  return ["npx tsx bench/run.ts", ...args].join(" ");
}
