// Issue 12, item 1: a second `npm start` on a DATA_DIR in use must stop before it opens (and,
// closing, rewrites) the databases of the running process, and a kill -9 must not block a restart.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "@parley/kit";
import { TEST_INTERNAL_SECRET } from "@parley/kit/testing";
import { PROCESS_NAMES } from "../src/processes.js";

const PASSWORD = "correct horse battery staple";
const STARTUP_MS = 150_000;

const root = mkdtempSync(join(tmpdir(), "parley-datadir-"));
const started: ChildProcess[] = [];
afterAll(async () => {
  for (const child of started) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }
  rmSync(root, { recursive: true, force: true });
});

/** `<NAME>_PORT` for every process of the all-in-one, each a different free port. */
async function freePorts(avoid: Set<string> = new Set()): Promise<Record<string, string>> {
  const ports: Record<string, string> = {};
  const taken = new Set(avoid);
  for (const name of PROCESS_NAMES) {
    let port: string;
    do port = String(await freePort());
    while (taken.has(port));
    taken.add(port);
    ports[`${name.toUpperCase()}_PORT`] = port;
  }
  return ports;
}

/** `tsx launch/src/main.ts` (what `npm start` runs) on `dataDir`, or another entrypoint. */
function startParleyProcess(dataDir: string, ports: Record<string, string>, main = "launch/src/main.ts") {
  const child = spawn(process.execPath, ["--import", "tsx", main], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      ...ports,
      DATA_DIR: dataDir,
      DATABASE_URL: "",
      REDIS_URL: "",
      // A service run alone needs the secret the all-in-one process makes itself.
      INTERNAL_AUTH_SECRET: TEST_INTERNAL_SECRET,
      LOG_LEVEL: "info",
      WEB_ROOT: join(root, "no-web-app"),
    },
  });
  started.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => void (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => void (stderr += chunk.toString()));
  const exited = once(child, "exit").then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null }));
  // Resolves "ready" at the log line main.ts writes once every service listens (a service's own main: once it listens), or "exited".
  const outcome = new Promise<"ready" | "exited">((resolve) => {
    child.stdout!.on("data", () => /Parley is running|service listening/.test(stdout) && resolve("ready"));
    void exited.then(() => resolve("exited"));
  });
  return {
    pid: child.pid!,
    child,
    exited,
    outcome,
    output: () => ({ stdout, stderr }),
    async ready() {
      if ((await outcome) !== "ready") throw new Error(`Parley did not start: ${JSON.stringify(await exited)}\n${stdout}\n${stderr}`);
    },
  };
}

async function api(ports: Record<string, string>, path: string, body: object) {
  const res = await fetch(`http://127.0.0.1:${ports.EDGE_PORT}/api/v1${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Path -> size, mtime and content hash of every file under `dir`. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const { size, mtimeMs } = statSync(path);
        files[relative(dir, path)] = `${size} ${mtimeMs} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`;
      }
    }
  };
  walk(dir);
  return files;
}

describe("embedded DATA_DIR in use by another process", () => {
  it(
    "refuses a second process on the same DATA_DIR (same or other ports) naming the first one's PID without touching its files, and a restart after kill -9 keeps every write",
    async () => {
      const dataDir = join(root, "data");
      const ports = await freePorts();
      const a = startParleyProcess(dataDir, ports);
      await a.ready();
      const first = { email: "first@example.com", username: "first_user", password: PASSWORD };
      expect((await api(ports, "/auth/register", first)).status).toBe(201);

      const otherPorts = await freePorts(new Set(Object.values(ports)));
      // B: all-in-one on the same and on other ports; then the user service alone on its directory.
      const attempts = [
        { ports, main: undefined, dir: dataDir },
        { ports: otherPorts, main: undefined, dir: dataDir },
        { ports: { PORT: otherPorts.USER_PORT! }, main: "services/user/src/main.ts", dir: `${dataDir}/user` },
      ];
      for (const attempt of attempts) {
        const before = snapshot(dataDir);
        const b = startParleyProcess(dataDir, attempt.ports, attempt.main);
        const outcome = await b.outcome;
        if (outcome === "ready") b.child.kill("SIGKILL");
        expect(outcome, "B started on a DATA_DIR in use").toBe("exited");
        const { code } = await b.exited;
        const { stderr } = b.output();
        expect(code).not.toBe(0);
        expect(stderr).toContain(`DATA_DIR ${attempt.dir} is in use by process ${a.pid} (started `);
        expect(stderr).toContain("stop it first");
        expect(stderr).not.toMatch(/^\s+at /m); // a message, not a stack trace
        expect(snapshot(dataDir)).toEqual(before);
      }

      const second = { email: "second@example.com", username: "second_user", password: PASSWORD };
      expect((await api(ports, "/auth/register", second)).status).toBe(201);
      a.child.kill("SIGKILL");
      expect(await a.exited).toEqual({ code: null, signal: "SIGKILL" });

      // The lock A left behind names a dead process: it must not block the restart.
      const c = startParleyProcess(dataDir, ports);
      await c.ready();
      for (const user of [first, second]) {
        expect((await api(ports, "/auth/login", { login: user.username, password: PASSWORD })).status).toBe(200);
      }

      // A clean stop frees every lock: the next process finds none.
      c.child.kill("SIGTERM");
      expect(await c.exited).toEqual({ code: 0, signal: null });
      expect(readdirSync(dataDir).filter((name) => name.includes(".lock")).sort()).toEqual([]);
    },
    6 * STARTUP_MS,
  );
});
