// The uWebSockets.js loader's choice among builds, with the candidate list and runtime given:
// these run on any Node (the native binding itself is proved by uws-native.test.ts).
import type { Logger } from "@parley/kit";
import { afterEach, describe, expect, it } from "vitest";
import { loadUws, UWS_CANDIDATES, type Uws, type UwsCandidate, type UwsRuntime } from "../src/socket/uws.js";

function recordingLog() {
  const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, fields, msg });
  return { lines, log: { info: at("info"), warn: at("warn") } as unknown as Logger };
}

const node22: UwsRuntime = { platform: "linux", arch: "x64", abi: "127", node: "22.23.3", glibc: "2.36" };
const marker = (name: string) => ({ App: () => name }) as unknown as Uws;

function candidate(over: Partial<UwsCandidate> & Pick<UwsCandidate, "package">): UwsCandidate {
  return {
    abis: ["115", "127"],
    nodes: "Node 20, 22",
    minGlibc: "2.38",
    version: () => "1.0.0",
    load: () => marker(over.package),
    ...over,
  };
}

describe("the uWebSockets.js loader", () => {
  const fallbackBefore = process.env.UWS_USE_FALLBACK;
  afterEach(() => {
    if (fallbackBefore === undefined) delete process.env.UWS_USE_FALLBACK;
    else process.env.UWS_USE_FALLBACK = fallbackBefore;
  });

  it("takes the first build whose binary loads and logs its package, version and Node ABI", () => {
    const { lines, log } = recordingLog();
    const uws = loadUws(false, log, node22, [candidate({ package: "first", version: () => "20.30.0" }), candidate({ package: "second" })]);
    expect((uws.App as unknown as () => string)()).toBe("first");
    expect(lines).toEqual([
      { level: "info", fields: { package: "first", version: "20.30.0", abi: "127", node: "22.23.3" }, msg: "uWebSockets.js native binding loaded" },
    ]);
  });

  it("skips a build without a binary for this Node ABI, one not installed and one that does not load, and takes the next", () => {
    const { lines, log } = recordingLog();
    const tried: string[] = [];
    const uws = loadUws(false, log, node22, [
      candidate({ package: "old-abis", abis: ["93", "115"], load: () => (tried.push("old-abis"), marker("old-abis")) }),
      candidate({ package: "absent", version: () => undefined }),
      candidate({
        package: "needs-new-glibc",
        load: () => {
          throw new Error("/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found");
        },
      }),
      candidate({ package: "works", minGlibc: "2.27" }),
    ]);
    expect((uws.App as unknown as () => string)()).toBe("works");
    expect(tried, "a build without this ABI is not even tried").toEqual([]);
    expect(lines.map((l) => l.fields.package)).toEqual(["works"]);
  });

  it("refuses to start when no native binding loads, naming each build's reason and the Node x glibc combinations that work", () => {
    const { lines, log } = recordingLog();
    const candidates = UWS_CANDIDATES.map((c, i) => ({
      ...c,
      version: () => (i === 0 ? "20.30.0-unofficial.0" : "20.57.0"),
      load: () => {
        throw new Error("/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found");
      },
    }));
    let message = "";
    try {
      loadUws(false, log, node22, candidates);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("no uWebSockets.js native binding loads on linux-x64, Node 22.23.3 (ABI 127), glibc 2.36");
    expect(message).toContain("@trufflesuite/uws-js-unofficial 20.30.0-unofficial.0: no binary for Node ABI 127 (it has 93/108/115: Node 20)");
    expect(message).toContain("@btc-vision/uwebsockets.js 20.57.0: uws_linux_x64_127.node does not load (it needs glibc >= 2.38; this system has glibc 2.36)");
    expect(message).toContain("The socket tier runs on Node 20 with glibc >= 2.27 (@trufflesuite/uws-js-unofficial); or Node 20, 22, 24 with glibc >= 2.38 (@btc-vision/uwebsockets.js)");
    expect(message).toContain("UWS_ALLOW_FALLBACK=true");
    expect(lines).toEqual([]);
  });

  it("says so when this system has no glibc (musl)", () => {
    const { log } = recordingLog();
    const musl = { ...node22, glibc: undefined };
    const failing = candidate({ package: "glibc-only", load: () => { throw new Error("Error relocating: __isoc23_strtol: symbol not found"); } });
    expect(() => loadUws(false, log, musl, [failing])).toThrow(/Node 22.23.3 \(ABI 127\), no glibc: glibc-only 1.0.0: uws_linux_x64_127.node does not load \(it needs glibc >= 2.38; this system has no glibc\)/);
  });

  it("runs on the JavaScript fallback only when UWS_ALLOW_FALLBACK is true, and warns", () => {
    const { lines, log } = recordingLog();
    const none = [candidate({ package: "absent", version: () => undefined })];
    expect(() => loadUws(false, log, node22, none)).toThrow(/absent: not installed/);
    const uws = loadUws(true, log, node22, none);
    expect(typeof uws.App).toBe("function");
    expect(process.env.UWS_USE_FALLBACK).toBe("true");
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ["warn", "running the socket tier on uWebSockets.js's JavaScript fallback: it serves no WebSockets"],
    ]);
  });
});
