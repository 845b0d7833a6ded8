import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DataDirInUseError, lockDataDir, openDatabase, type DataDirLock, createLogger } from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "parley-lock-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const started: ChildProcess[] = [];
afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    }
  }
});

let dirs = 0;
const freshDir = () => join(root, `db${++dirs}`);

type Answer = { ready?: number; locked?: number; refused?: number; released?: number; message?: string };

/** A real process holding (or trying to take) the lock of `dir`, driven over stdin. */
async function holder(dir: string) {
  const child = spawn(process.execPath, ["--import", "tsx", "services/kit/test/fixtures/lock-holder.ts", dir], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  started.push(child);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<Answer> => JSON.parse(((await lines.next()).value as string) ?? "null");
  const ready = await next();
  const send = async (command: "lock" | `lock ${number}` | "release") => {
    child.stdin!.write(`${command}\n`);
    return next();
  };
  const kill9 = async () => {
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  };
  const exit = async () => {
    const exited = once(child, "exit");
    child.stdin!.write("exit\n");
    await exited;
  };
  return { pid: ready.ready!, child, send, kill9, exit };
}

async function refusal(promise: Promise<unknown>): Promise<DataDirInUseError> {
  const error = await promise.then(
    () => new Error("the lock was taken"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataDirInUseError);
  return error as DataDirInUseError;
}

const lockFiles = (dir: string) => readdirSync(root).filter((name) => name.startsWith(`${dir.split("/").at(-1)}.lock`));

describe("data dir lock", () => {
  it("refuses a directory locked by a live process, naming its PID", async () => {
    const dir = freshDir();
    const a = await holder(dir);
    expect(await a.send("lock")).toEqual({ locked: a.pid });

    const error = await refusal(lockDataDir(dir));
    expect(error.holder.pid).toBe(a.pid);
    expect(error.message).toMatch(new RegExp(`^DATA_DIR ${dir} is in use by process ${a.pid} \\(started [^)]+\\); stop it first$`));
    // The same from another process, and from this one while it holds the lock.
    const b = await holder(dir);
    expect(await b.send("lock")).toMatchObject({ refused: a.pid });
    expect(await a.send("release")).toEqual({ released: a.pid });
    const mine = await lockDataDir(dir);
    expect((await refusal(lockDataDir(dir))).holder.pid).toBe(process.pid);
    expect(await b.send("lock")).toMatchObject({ refused: process.pid });
    await mine.release();
  });

  it("takes over the lock of a process killed with SIGKILL and removes what it left", async () => {
    const dir = freshDir();
    const a = await holder(dir);
    expect(await a.send("lock")).toEqual({ locked: a.pid });
    await a.kill9();
    // What a process killed while it tried for the lock leaves: its record under a draft name.
    const dead = JSON.parse(readFileSync(`${dir}.lock`, "utf8")) as { token: string };
    writeFileSync(`${dir}.lock.${dead.token}.tmp`, JSON.stringify(dead));

    const lock = await lockDataDir(dir);
    expect(JSON.parse(readFileSync(lock.file, "utf8"))).toMatchObject({ pid: process.pid, token: lock.holder.token });
    expect(lockFiles(dir).sort()).toEqual([`${dir.split("/").at(-1)}.lock`, `${dir.split("/").at(-1)}.lock.${lock.holder.token}.sock`]);
    await lock.release();
    expect(lockFiles(dir)).toEqual([]);
  });

  it.skipIf(process.platform !== "linux")("judges a lock without a socket by its PID: dead, our own, reused or from an earlier boot is stale; alive or on another machine is not", async () => {
    const start = (pid: number) => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]!;
    const record = (pid: number, processStart: string) => ({
      pid,
      token: Math.random().toString(16).slice(2),
      host: hostname(),
      bootId: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
      pidNamespace: readlinkSync("/proc/self/ns/pid"),
      processStart,
      startedAt: new Date().toISOString(),
      socket: null,
    });
    const exited = spawn(process.execPath, ["-e", ""]);
    await once(exited, "exit");
    const live = await holder(freshDir());
    const cases = [
      { holder: record(exited.pid!, "1"), stale: true },
      // A restarted container is PID 1 again: a lock naming our PID is an earlier process's.
      { holder: record(process.pid, start(process.pid)), stale: true },
      { holder: record(live.pid, String(Number(start(live.pid)) + 1)), stale: true },
      { holder: record(live.pid, start(live.pid)), stale: false },
      // Written before this machine last booted: stale. Written on another machine: cannot be checked, refused.
      { holder: { ...record(live.pid, start(live.pid)), bootId: "an-earlier-boot" }, stale: true },
      { holder: { ...record(live.pid, start(live.pid)), bootId: "another-kernel", host: "elsewhere" }, stale: false },
    ];
    for (const { holder: written, stale } of cases) {
      const dir = freshDir();
      writeFileSync(`${dir}.lock`, JSON.stringify(written));
      if (stale) await (await lockDataDir(dir)).release();
      else {
        const error = await refusal(lockDataDir(dir));
        expect(error.holder.pid).toBe(live.pid);
        if (written.host === "elsewhere") expect(error.message).toContain(`process ${live.pid} on elsewhere (started `);
        expect(error.message.endsWith(written.host === "elsewhere" ? `remove ${dir}.lock)` : "stop it first")).toBe(true);
      }
    }
  });

  it("lets exactly one of several processes racing for a stale lock take it", async () => {
    const dir = freshDir();
    const first = await holder(dir);
    expect(await first.send("lock")).toEqual({ locked: first.pid });
    await first.kill9();
    let racers = await Promise.all([1, 2, 3, 4, 5].map(() => holder(dir)));
    for (let round = 1; round <= 3; round++) {
      // All at once on the stale lock of the last winner, killed with SIGKILL.
      const at = Date.now() + 500;
      const answers = await Promise.all(racers.map((racer) => racer.send(`lock ${at}`)));
      const winners = racers.filter((_, i) => answers[i]!.locked !== undefined);
      expect(winners).toHaveLength(1);
      const winner = winners[0]!;
      for (const answer of answers) if (answer.locked === undefined) expect(answer.refused).toBe(winner.pid);
      await winner.kill9();
      racers = racers.filter((racer) => racer !== winner);
    }
  });

  it("lets exactly one of several takeovers in one process win", async () => {
    const dir = freshDir();
    const a = await holder(dir);
    expect(await a.send("lock")).toEqual({ locked: a.pid });
    await a.kill9();
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => lockDataDir(dir)));
    const won = results.filter((r): r is PromiseFulfilledResult<DataDirLock> => r.status === "fulfilled");
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect((r.reason as DataDirInUseError).holder.pid).toBe(process.pid);
    await won[0]!.value.release();
  });

  it("frees the lock on release and when the holder exits without releasing", async () => {
    const dir = freshDir();
    const a = await holder(dir);
    expect(await a.send("lock")).toEqual({ locked: a.pid });
    expect(await a.send("release")).toEqual({ released: a.pid });
    expect(lockFiles(dir)).toEqual([]);
    expect(await a.send("lock")).toEqual({ locked: a.pid });
    await a.exit();
    expect(lockFiles(dir)).toEqual([]);
    const lock = await lockDataDir(dir);
    await lock.release();
    await lock.release();
    expect(lockFiles(dir)).toEqual([]);
  });

  it("openDatabase locks the PGlite directory before touching it and frees it on orm.close()", async () => {
    const log = createLogger("test", "silent");
    const dir = freshDir();
    const options = { service: "locktest", entities: [], migrations: [], dataDir: dir, log };
    const orm = await openDatabase(options);
    const before = readdirSync(dir).sort();
    const error = await refusal(openDatabase(options));
    expect(error.holder.pid).toBe(process.pid);
    expect(readdirSync(dir).sort()).toEqual(before);
    await orm.close();
    expect(existsSync(`${dir}.lock`)).toBe(false);
    const reopened = await openDatabase(options);
    await reopened.close();
  });
});
