// Part of `npm run test:image`: runs every process of the built image as production runs it
// (read-only root filesystem, uid 10001, every capability dropped, no new privileges), each in
// its own container on one podman network with embedded databases on a tmpfs, and checks that
//   - each becomes healthy (its own health check, run inside the container);
//   - the socket tier took a native uWebSockets.js binding (its log line: package, version, ABI);
//   - each stops on SIGTERM as PID 1, by its own handler (exit 0, "stopped"), well within the grace;
//   - the all-in-one process does the same.
// Usage: node --import tsx deploy/test-image/processes.ts <image>
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { addressVariable, PROCESSES, startOrder } from "@parley/launch";

const image = process.argv[2] ?? "localhost/parley:local";
const network = "parleytest_processes";
const prefix = "parley-image-test-";
const STOP_GRACE_S = 30;

function podman(args: string[], options: { check?: boolean } = {}): string {
  const result = spawnSync("podman", args, { encoding: "utf8" });
  if ((options.check ?? true) && result.status !== 0) {
    throw new Error(`podman ${args.join(" ")} failed (${result.status}): ${result.stderr.trim()}`);
  }
  return result.stdout.trim();
}

const hardened = ["--read-only", "--tmpfs", "/tmp", "--user", "10001:10001", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"];

function healthCommand(spec: { health: "grpc" | "http"; port: number }): string[] {
  return spec.health === "grpc"
    ? ["node", "launch/src/healthcheck.mjs", "grpc", `127.0.0.1:${spec.port}`]
    : ["node", "launch/src/healthcheck.mjs", "http", `http://127.0.0.1:${spec.port}/healthz`];
}

async function waitHealthy(container: string, check: string[], timeoutMs = 180_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    const state = podman(["inspect", container, "--format", "{{.State.Status}}"]);
    if (state !== "running") throw new Error(`${container} is ${state}:\n${logsOf(container).split("\n").slice(-30).join("\n")}`);
    if (spawnSync("podman", ["exec", container, ...check], { encoding: "utf8" }).status === 0) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`${container} not healthy after ${timeoutMs} ms:\n${logsOf(container).split("\n").slice(-30).join("\n")}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Both streams: the processes log to stdout, Node's own errors go to stderr. */
function logsOf(container: string): string {
  const result = spawnSync("podman", ["logs", container], { encoding: "utf8" });
  return `${result.stdout}${result.stderr}`;
}

/** SIGTERM to PID 1 (podman stop), then: how long it took, the exit code, and whether its handler ran. */
function stopGracefully(container: string, graceS = STOP_GRACE_S): { seconds: number; exitCode: number; logs: string } {
  const start = Date.now();
  podman(["stop", "--time", String(graceS), container]);
  const seconds = (Date.now() - start) / 1000;
  const exitCode = Number(podman(["inspect", container, "--format", "{{.State.ExitCode}}"]));
  return { seconds, exitCode, logs: logsOf(container) };
}

const failures: string[] = [];
const started: string[] = [];
// The processes of one Parley share the key their internal calls are signed with.
const internalSecret = randomBytes(48).toString("base64url");

function run(name: string, env: Record<string, string>, command: string[]): string {
  const container = `${prefix}${name}`;
  // Embedded databases on the /tmp tmpfs (podman mounts a tmpfs on DATA_DIR with root's ownership).
  const envArgs = Object.entries({ DATA_DIR: "/tmp/parley", INTERNAL_AUTH_SECRET: internalSecret, ...env }).flatMap(([k, v]) => ["--env", `${k}=${v}`]);
  podman(["rm", "-f", "-t", "2", container], { check: false });
  podman(["run", "-d", "--name", container, "--network", network, "--network-alias", name, ...hardened,
    ...envArgs, image, ...command]);
  started.push(container);
  return container;
}

function expectGracefulStop(name: string, container: string) {
  const { seconds, exitCode, logs } = stopGracefully(container);
  const handled = logs.includes('"msg":"shutting down"') && logs.includes('"msg":"stopped"');
  const ok = exitCode === 0 && seconds < STOP_GRACE_S - 1 && handled;
  console.log(`    ${name}: SIGTERM -> exit ${exitCode} after ${seconds.toFixed(1)} s${handled ? " (its shutdown ran)" : ""}${ok ? "" : "  <-- NOT GRACEFUL"}`);
  if (!ok) failures.push(`${name} did not stop gracefully on SIGTERM (exit ${exitCode}, ${seconds.toFixed(1)} s):\n${logs.split("\n").slice(-10).join("\n")}`);
}

try {
  // What a killed earlier run left behind (run.sh removes it too; this script also runs alone).
  podman(["network", "rm", "-f", network], { check: false });
  podman(["network", "create", network]);
  const addresses = Object.fromEntries(PROCESSES.filter((p) => p.health === "grpc").map((p) => [addressVariable(p.name), `${p.name}:${p.port}`]));
  // Each after what it calls, as the process table orders them.
  const order = startOrder(PROCESSES);
  // Distributed mode with embedded databases (no DATABASE_URL) and the in-memory broker: each
  // process alone, as compose runs them but without PostgreSQL and Redis (compose covers those).
  for (const spec of order) {
    const container = run(spec.name, { ...addresses, PORT: String(spec.port), NODE_ID: spec.name, LOG_LEVEL: "info" }, [spec.name]);
    const ms = await waitHealthy(container, healthCommand(spec));
    console.log(`    ${spec.name}: healthy after ${(ms / 1000).toFixed(1)} s`);
  }
  const socketLog = logsOf(`${prefix}socket`);
  const loaded = socketLog.split("\n").find((line) => line.includes("uWebSockets.js native binding loaded"));
  const node = podman(["run", "--rm", "--network", "none", "--entrypoint", "node", image, "-p", "process.version"]);
  if (!loaded) failures.push(`the socket tier logged no native binding:\n${socketLog}`);
  else console.log(`    socket tier on Node ${node}: ${loaded}`);
  if (!/^v2[2-9]\./.test(node)) failures.push(`the image runs Node ${node}, not 22 or later`);
  // Stop in reverse start order, so that nothing a process calls at shutdown is gone first.
  for (const spec of [...order].reverse()) expectGracefulStop(spec.name, `${prefix}${spec.name}`);

  // The check itself: a PID 1 without a SIGTERM handler is not stopped by SIGTERM (the kernel
  // does not apply the default action to PID 1), only killed when the grace runs out.
  const ignoring = `${prefix}ignores-sigterm`;
  podman(["run", "-d", "--name", ignoring, "--network", "none", ...hardened, "--entrypoint", "node", image, "-e", "setInterval(() => {}, 1000)"]);
  started.push(ignoring);
  const control = stopGracefully(ignoring, 3);
  if (control.exitCode !== 137) failures.push(`the SIGTERM check is blind: a PID 1 without a handler exited ${control.exitCode} (expected 137, killed)`);
  else console.log(`    control: a PID 1 without a SIGTERM handler is killed after the grace (exit 137 after ${control.seconds.toFixed(1)} s)`);

  const allInOne = run("all-in-one", { LOG_LEVEL: "info" }, ["all-in-one"]);
  const ms = await waitHealthy(allInOne, ["node", "launch/src/healthcheck.mjs", "http", "http://127.0.0.1:8080/healthz"]);
  console.log(`    all-in-one: healthy after ${(ms / 1000).toFixed(1)} s`);
  expectGracefulStop("all-in-one", allInOne);
} catch (error) {
  failures.push((error as Error).message);
} finally {
  for (const container of started) podman(["rm", "-f", "-t", "5", container], { check: false });
  podman(["network", "rm", "-f", network], { check: false });
}

if (failures.length) {
  console.error(`\n${failures.join("\n\n")}`);
  process.exit(1);
}
