// Loads a uWebSockets.js native binding: uWebSockets.js is not on npm under its own name, and
// no single republished build covers every Node.js and libc, so the candidates below are tried
// in order and the first native binding that loads wins. The socket tier refuses to run on the
// Truffle build's slow JavaScript fallback unless the operator asked for it (UWS_ALLOW_FALLBACK=true).
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Logger } from "@parley/kit";

export type Uws = typeof import("uWebSockets.js");
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from "uWebSockets.js";

const require = createRequire(import.meta.url);

/** What decides whether a binding can load: the binary's name and the C library it was linked against. */
export interface UwsRuntime {
  platform: string;
  arch: string;
  /** process.versions.modules: the Node ABI a native addon is built for. */
  abi: string;
  node: string;
  /** glibc version, or undefined on musl, macOS and Windows. */
  glibc: string | undefined;
}

/** One republished build of uWebSockets.js, and what its binaries need (from their package contents and symbols). */
export interface UwsCandidate {
  /** npm package name, for logs and messages. */
  package: string;
  /** The Node ABIs it ships binaries for, and the Node versions among them that Parley supports. */
  abis: string[];
  nodes: string;
  /** Lowest glibc its Linux binaries load with. */
  minGlibc: string;
  /** The installed version, or undefined when the package is not installed. */
  version(): string | undefined;
  /** Loads the native binary for this runtime, bypassing any JavaScript fallback of the package. */
  load(runtime: UwsRuntime): Uws;
}

/**
 * The package's directory, found through its main file: the btc-vision build's `exports` map
 * hides its package.json and binaries from require, so they are read by path.
 */
function packageDir(name: string): string | undefined {
  try {
    let dir = dirname(require.resolve(name));
    while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
    return dir;
  } catch {
    return undefined;
  }
}

function installedVersion(name: string): string | undefined {
  const dir = packageDir(name);
  return dir && (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
}

const binaryName = (r: UwsRuntime) => `uws_${r.platform}_${r.arch}_${r.abi}.node`;

/** In order: the Truffle build is what Parley was built and measured on (Node 20); the btc-vision build covers Node 22+. */
export const UWS_CANDIDATES: UwsCandidate[] = [
  {
    // edge/package.json aliases it as "uWebSockets.js" (a dependency).
    package: "@trufflesuite/uws-js-unofficial",
    abis: ["93", "108", "115"],
    nodes: "Node 20",
    minGlibc: "2.27",
    version: () => installedVersion("uWebSockets.js"),
    load: (r) => require(join(packageDir("uWebSockets.js")!, "binaries", binaryName(r))) as Uws,
  },
  {
    // An optionalDependency of edge/package.json (about 114 MB of binaries, no install script).
    package: "@btc-vision/uwebsockets.js",
    abis: ["115", "127", "137", "141"],
    nodes: "Node 20, 22, 24",
    minGlibc: "2.38",
    version: () => installedVersion("@btc-vision/uwebsockets.js"),
    load: (r) => require(join(packageDir("@btc-vision/uwebsockets.js")!, binaryName(r))) as Uws,
  },
];

let runtimeOfThisProcess: UwsRuntime | undefined;

export function currentRuntime(): UwsRuntime {
  runtimeOfThisProcess ??= {
    platform: process.platform,
    arch: process.arch,
    abi: process.versions.modules,
    node: process.versions.node,
    glibc: (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime,
  };
  return runtimeOfThisProcess;
}

/** A binding that loaded, and from where: logged at start so an operator sees which build runs. */
export interface LoadedUws {
  uws: Uws;
  package: string;
  version: string;
  abi: string;
}

/** Tries each candidate that ships a binary for this Node ABI; undefined with the reasons when none loads. */
export function findNativeUws(runtime: UwsRuntime, candidates: UwsCandidate[]): { loaded?: LoadedUws; reasons: string[] } {
  const reasons: string[] = [];
  for (const candidate of candidates) {
    const version = candidate.version();
    const name = `${candidate.package}${version ? ` ${version}` : ""}`;
    if (!version) {
      reasons.push(`${candidate.package}: not installed`);
      continue;
    }
    if (!candidate.abis.includes(runtime.abi)) {
      reasons.push(`${name}: no binary for Node ABI ${runtime.abi} (it has ${candidate.abis.join("/")}: ${candidate.nodes})`);
      continue;
    }
    try {
      return { loaded: { uws: candidate.load(runtime), package: candidate.package, version, abi: runtime.abi }, reasons };
    } catch (error) {
      const glibcNote =
        runtime.platform === "linux" && (!runtime.glibc || compareVersions(runtime.glibc, candidate.minGlibc) < 0)
          ? ` (it needs glibc >= ${candidate.minGlibc}; this system has ${runtime.glibc ? `glibc ${runtime.glibc}` : "no glibc"})`
          : "";
      reasons.push(`${name}: ${binaryName(runtime)} does not load${glibcNote}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  return { reasons };
}

function compareVersions(a: string, b: string): number {
  const [pa, pb] = [a.split(".").map(Number), b.split(".").map(Number)];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** What runs, in Node x libc terms: the refusal message's advice. */
export function supportedMatrix(candidates: UwsCandidate[]): string {
  return candidates.map((c) => `${c.nodes} with glibc >= ${c.minGlibc} (${c.package})`).join("; or ");
}

export function loadUws(
  allowFallback: boolean,
  log: Logger,
  runtime: UwsRuntime = currentRuntime(),
  candidates: UwsCandidate[] = UWS_CANDIDATES,
): Uws {
  const { loaded, reasons } = findNativeUws(runtime, candidates);
  if (loaded) {
    log.info({ package: loaded.package, version: loaded.version, abi: loaded.abi, node: runtime.node }, "uWebSockets.js native binding loaded");
    return loaded.uws;
  }
  const here = `${runtime.platform}-${runtime.arch}, Node ${runtime.node} (ABI ${runtime.abi}), ${runtime.glibc ? `glibc ${runtime.glibc}` : "no glibc"}`;
  const reason = `no uWebSockets.js native binding loads on ${here}: ${reasons.join("; ")}`;
  if (!allowFallback) {
    throw new Error(
      `${reason}. The socket tier runs on ${supportedMatrix(candidates)}; Linux needs glibc (not musl/Alpine). ` +
        "Or set UWS_ALLOW_FALLBACK=true to run on the slow JavaScript fallback.",
    );
  }
  // The Truffle build's fallback answers HTTP but throws "not implemented" on WebSocket upgrades.
  log.warn({ reason }, "running the socket tier on uWebSockets.js's JavaScript fallback: it serves no WebSockets");
  process.env.UWS_USE_FALLBACK = "true";
  return require("uWebSockets.js") as Uws;
}
