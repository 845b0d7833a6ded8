// An exclusive lock on an embedded database directory: a second process must never open a PGlite
// directory that another one is running on (closing it, PGlite rewrites pg_control, WAL and
// pg_xact under the running process, and confirmed writes are lost).
//
// Why hand-written: Node has no flock/fcntl without a native addon, and proper-lockfile (the
// well-kept library) judges staleness by mtime, so after a kill -9 a restart is refused until
// the stale timeout passes, and every holder must keep touching the lock. This is PostgreSQL's
// postmaster.pid instead, with two additions:
// - Liveness from the kernel where it can tell: the holder listens on a unix socket next to the
//   lock, and the kernel closes it when the holder dies however it dies; connecting tells alive
//   (accepted) from dead (refused) across PID namespaces (a restarted container is PID 1 again,
//   and so is another container on the same volume). Where there is no socket, the PID: alive
//   (kill 0), same PID namespace, same process start time (/proc/<pid>/stat, against PID reuse).
// - Race-free takeover of a stale lock: the taker of a dead holder's lock first creates
//   `<lock>.claim.<dead holder's token>` with link(2), which only one process can do; a claim
//   whose taker died is itself a dead holder, claimed the same way. Only the claimant renames its
//   record over the lock, after checking the lock still names the holder it saw dead.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";

/** What a lock file says about the process holding it. */
export interface LockHolder {
  pid: number;
  /** Random, unique per acquisition: names the holder's claim and socket files. */
  token: string;
  host: string;
  /** The kernel's boot id: equal means the same running kernel (containers on one host share it). */
  bootId: string | null;
  pidNamespace: string | null;
  /** Start time of the process in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  processStart: string | null;
  startedAt: string;
  /** Name of the unix socket the holder listens on, beside the lock file. */
  socket: string | null;
}

export class DataDirInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder,
    readonly lockFile: string,
    /** False when the holder could not be checked (another machine or PID namespace). */
    readonly certain: boolean,
  ) {
    const where = holder.host === hostname() ? "" : ` on ${holder.host}`;
    const hint = certain ? "" : ` (if it is not running any more, remove ${lockFile})`;
    super(`DATA_DIR ${dir} is in use by process ${holder.pid}${where} (started ${holder.startedAt}); stop it first${hint}`);
    this.name = "DataDirInUseError";
  }
}

export interface DataDirLock {
  readonly file: string;
  readonly holder: LockHolder;
  /** Removes the lock (if it is still this process's) and closes its socket. Idempotent. */
  release(): Promise<void>;
}

/** Locks an embedded database directory: the lock is `<dir>.lock`, beside it, so a refused process touches nothing inside. */
export function lockDataDir(dir: string): Promise<DataDirLock> {
  return acquireLock(`${dir.replace(/\/+$/, "")}.lock`, dir);
}

/** Takes the lock file `file` (`label` names what it guards in the refusal), or throws DataDirInUseError. */
export async function acquireLock(file: string, label: string): Promise<DataDirLock> {
  mkdirSync(dirname(file), { recursive: true });
  const token = randomBytes(8).toString("hex");
  // Listening before the record is visible: no one may see the record and find no listener.
  const probe = await listenForProbes(`${file}.${token}.sock`);
  const me: LockHolder = {
    pid: process.pid,
    token,
    host: hostname(),
    bootId: BOOT_ID,
    pidNamespace: PID_NAMESPACE,
    processStart: processStart(process.pid),
    startedAt: new Date().toISOString(),
    socket: probe ? basename(probe.path) : null,
  };
  // The record is written whole before it gets the lock's name (link/rename), so no reader sees it half-written.
  const draft = `${file}.${token}.tmp`;
  try {
    writeDurably(draft, JSON.stringify(me));
    for (let attempt = 0; attempt < 50; attempt++) {
      if (linkExclusive(draft, file)) return await held(file, me, probe);
      const head = readHolder(file);
      if (!head) continue; // released meanwhile
      let end = head;
      for (let depth = 0; depth < 50; depth++) {
        const next = readHolder(claimFile(file, end.token));
        if (!next) break;
        end = next;
      }
      const state = await liveness(end, file);
      if (state !== "dead") throw new DataDirInUseError(label, end, file, state === "alive");
      const claim = claimFile(file, end.token);
      if (!linkExclusive(draft, claim)) continue; // another process is taking it over: look again
      if (readHolder(file)?.token !== head.token) {
        rmSync(claim, { force: true }); // taken over meanwhile
        continue;
      }
      renameSync(draft, file);
      return await held(file, me, probe);
    }
    throw new Error(`could not lock ${label}: ${file} kept changing hands`);
  } catch (error) {
    probe?.close();
    throw error;
  } finally {
    rmSync(draft, { force: true });
  }
}

type Liveness = "alive" | "dead" | "unknown";

const BOOT_ID = readOrNull(() => readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
const PID_NAMESPACE = readOrNull(() => readlinkSync("/proc/self/ns/pid"));
/** Tokens of the locks this process holds, with what to remove at exit. */
const HELD = new Map<string, { file: string; socketPath: string | null }>();
/** The longest unix socket path every platform takes (sun_path is 104 bytes on macOS, 108 on Linux). */
const MAX_SOCKET_PATH = 100;

async function liveness(holder: LockHolder, file: string): Promise<Liveness> {
  if (HELD.has(holder.token)) return "alive";
  const sameKernel = holder.bootId === BOOT_ID && (BOOT_ID !== null || holder.host === hostname());
  // Another boot of this machine: every process of that boot is gone. Another machine: unknowable.
  if (!sameKernel) return holder.host === hostname() ? "dead" : "unknown";
  if (holder.socket) {
    const answer = await probe(join(dirname(file), holder.socket));
    if (answer !== "unknown") return answer;
  }
  if (holder.pidNamespace !== PID_NAMESPACE) return "unknown";
  // Our own PID on a lock that is not ours: written by an earlier process that had our PID (PID 1 in a container).
  if (holder.pid === process.pid) return "dead";
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return "dead";
    // EPERM: it exists, as another user
  }
  const start = processStart(holder.pid);
  if (holder.processStart !== null && start !== null && start !== holder.processStart) return "dead"; // PID reused
  return "alive";
}

/** Connects to a holder's socket: accepted while it lives; refused once the kernel has closed it. */
function probe(path: string): Promise<Liveness> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return Promise.resolve("unknown");
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve("alive");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED" ? "dead" : "unknown"));
  });
}

interface ProbeListener {
  path: string;
  close(): void;
}

async function listenForProbes(path: string): Promise<ProbeListener | null> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return null;
  const server: Server = createServer((connection) => connection.destroy());
  const listening = await new Promise<boolean>((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(path, () => resolve(true));
  });
  if (!listening) return null; // a filesystem without sockets: the PID check stands alone
  server.unref(); // the lock must not keep the process alive
  return {
    path,
    close() {
      server.close();
      rmSync(path, { force: true });
    },
  };
}

async function held(file: string, me: LockHolder, probe: ProbeListener | null): Promise<DataDirLock> {
  HELD.set(me.token, { file, socketPath: probe?.path ?? null });
  if (HELD.size === 1) process.on("exit", releaseAllAtExit);
  await removeLeftovers(file, me.token);
  let released = false;
  return {
    file,
    holder: me,
    async release() {
      if (released) return;
      released = true;
      if (readHolder(file)?.token === me.token) rmSync(file, { force: true });
      probe?.close();
      HELD.delete(me.token);
      if (HELD.size === 0) process.off("exit", releaseAllAtExit);
    },
  };
}

/** Claims of the takeovers that led here, and the sockets and drafts a kill -9 left behind. */
async function removeLeftovers(file: string, token: string): Promise<void> {
  const dir = dirname(file);
  const prefix = `${basename(file)}.`;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const path = join(dir, name);
    if (name.startsWith(`${prefix}claim.`)) rmSync(path, { force: true });
    else if (name.endsWith(".sock") && name !== `${prefix}${token}.sock`) {
      if ((await probe(path)) === "dead") rmSync(path, { force: true });
    } else if (name.endsWith(".tmp") && name !== `${prefix}${token}.tmp`) {
      // Another process's record while it tries for the lock: removed only once that process is gone.
      const writer = readOrNull(() => readHolder(path));
      if (writer && (await liveness(writer, file)) === "dead") rmSync(path, { force: true });
    }
  }
}

/** A process that exits without stopping (process.exit, an uncaught error) still frees its locks. */
function releaseAllAtExit(): void {
  for (const [token, { file, socketPath }] of HELD) {
    try {
      if (readHolder(file)?.token === token) rmSync(file, { force: true });
      if (socketPath) rmSync(socketPath, { force: true });
    } catch {
      // exiting: nothing more to do
    }
  }
}

/** Written and flushed before it gets a lock's name: a lock file that survives a power loss is never empty. */
function writeDurably(path: string, text: string): void {
  const fd = openSync(path, "wx");
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function claimFile(file: string, token: string): string {
  return `${file}.claim.${token}`;
}

/** link(2) fails if the name exists: an atomic create-if-absent of a file already written in full. */
function linkExclusive(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw error;
  }
  // A filesystem without hard links (exFAT, some FUSE mounts): O_EXCL is as exclusive, written in one call.
  try {
    writeDurably(to, readFileSync(from, "utf8"));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

function readHolder(file: string): LockHolder | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  try {
    const holder = JSON.parse(text) as LockHolder;
    if (typeof holder.pid === "number" && typeof holder.token === "string") return holder;
  } catch {
    // not ours
  }
  throw new Error(`${file} is not a Parley lock file: move it away if no Parley process uses this directory`);
}

function processStart(pid: number): string | null {
  return readOrNull(() => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces and parentheses): state is field 3, starttime field 22.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  });
}

function readOrNull<T>(read: () => T | null): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}
