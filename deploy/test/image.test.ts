// deploy/Dockerfile cannot be built here (no Docker engine), so these check what can be
// checked without one: every COPY source is in the build context that .dockerignore leaves,
// stages and entrypoint are consistent, and the image's own build steps (runtime manifest,
// pruning, entrypoint) do what the Dockerfile relies on.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isPresent, PROCESSES } from "@parley/launch";
import { contextFiles, isIgnored, parseDockerignore } from "./dockerignore.js";
import { repoRoot } from "./support.js";

interface Instruction {
  keyword: string;
  args: string;
}

function parseDockerfile(text: string): Instruction[] {
  const logical = text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ");
  return logical
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword!.toUpperCase(), args: rest.join(" ") };
    });
}

const dockerfile = parseDockerfile(readFileSync(join(repoRoot, "deploy/Dockerfile"), "utf8"));
const patterns = parseDockerignore(readFileSync(join(repoRoot, ".dockerignore"), "utf8"));
const context = contextFiles(repoRoot, patterns);
const inContext = (path: string) => {
  const clean = path.replace(/^\.\//, "").replace(/\/$/, "");
  return clean === "." || context.some((file) => file === clean || file.startsWith(`${clean}/`));
};
const scratch = mkdtempSync(join(tmpdir(), "parley-image-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("deploy/Dockerfile", () => {
  const args = Object.fromEntries(dockerfile.filter((i) => i.keyword === "ARG").map((i) => i.args.split("=") as [string, string]));
  const stages = dockerfile.filter((i) => i.keyword === "FROM").map((i) => {
    const [image, , name] = i.args.split(/\s+/);
    return { image: image!.replace(/\$\{(\w+)\}/g, (_, arg: string) => args[arg] ?? ""), name };
  });
  const finalStage = dockerfile.slice(dockerfile.findLastIndex((i) => i.keyword === "FROM"));

  it("builds every stage on Node.js 24, Debian trixie slim (glibc 2.41: the uWebSockets.js build for Node 22+ needs 2.38)", () => {
    expect(stages.length).toBeGreaterThan(1);
    for (const stage of stages) expect(stage.image).toBe("node:24-trixie-slim");
  });

  it("copies only what the build context (after .dockerignore) has, and only from earlier stages", () => {
    const defined: string[] = [];
    for (const instruction of dockerfile) {
      if (instruction.keyword === "FROM") defined.push(instruction.args.split(/\s+/)[2]!);
      if (instruction.keyword !== "COPY") continue;
      const parts = instruction.args.split(/\s+/);
      const from = parts.find((p) => p.startsWith("--from="))?.slice("--from=".length);
      const paths = parts.filter((p) => !p.startsWith("--"));
      const sources = paths.slice(0, -1);
      if (from) {
        expect(defined, `COPY --from=${from}`).toContain(from);
        continue;
      }
      for (const source of sources) expect(inContext(source), `COPY ${source}: in the build context`).toBe(true);
    }
  });

  it("has in its build context every workspace's package.json and the lockfile (npm ci needs them), and no tests or installs", () => {
    const manifest = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { workspaces: string[] };
    for (const workspace of manifest.workspaces) {
      const dirs = workspace.endsWith("/*")
        ? readdirSync(join(repoRoot, workspace.slice(0, -2)), { withFileTypes: true })
            .filter((d) => d.isDirectory())
            .map((d) => `${workspace.slice(0, -2)}/${d.name}`)
        : [workspace];
      for (const dir of dirs) expect(context, `${dir}/package.json`).toContain(`${dir}/package.json`);
    }
    expect(context).toContain("package-lock.json");
    expect(context.filter((f) => /(^|\/)(node_modules|test|data)\//.test(f))).toEqual([]);
    expect(isIgnored(patterns, ".env")).toBe(true);
  });

  it("has every process's entrypoint, the launcher, the migration runner and the health checker in the context", () => {
    for (const spec of PROCESSES.filter((p) => isPresent(p))) expect(context, spec.name).toContain(spec.entry);
    for (const file of ["launch/package.json", "launch/src/run.ts", "launch/src/processes.ts", "launch/src/migrate.ts", "launch/src/healthcheck.mjs", "deploy/docker/check-image.ts"]) {
      expect(context).toContain(file);
    }
  });

  it("runs as uid 10001, writes only under /tmp, and starts the process its argument names", () => {
    const user = finalStage.filter((i) => i.keyword === "USER").at(-1)?.args;
    expect(user).toBe("10001:10001");
    const env = finalStage.filter((i) => i.keyword === "ENV").map((i) => i.args).join(" ");
    expect(env).toMatch(/HOME=\/tmp/);
    expect(env).toMatch(/TMPDIR=\/tmp/);
    expect(env).toMatch(/NODE_ENV=production/);
    const entrypoint = JSON.parse(finalStage.find((i) => i.keyword === "ENTRYPOINT")!.args) as string[];
    expect(entrypoint).toEqual(["node", "--import", "tsx", "launch/src/run.ts"]);
  });

  it("installs production dependencies only, without install scripts", () => {
    const install = dockerfile.find((i) => i.keyword === "RUN" && i.args.includes("npm ci --omit=dev"));
    expect(install?.args).toMatch(/runtime-manifest\.mjs package\.json\s+&& npm ci --omit=dev --ignore-scripts/);
  });

  it("takes an extra CA for npm only as a build secret, never as an ARG, ENV or COPY", () => {
    const installs = dockerfile.filter((i) => i.keyword === "RUN" && /npm ci/.test(i.args));
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) {
      expect(install.args).toMatch(/--mount=type=secret,id=extra_ca/);
      expect(install.args).toMatch(/NODE_EXTRA_CA_CERTS=\/run\/secrets\/extra_ca/);
    }
    for (const i of dockerfile.filter((i) => ["ARG", "ENV", "COPY"].includes(i.keyword))) expect(i.args).not.toMatch(/CA_CERT|extra_ca|\.crt|\.pem/i);
  });
});

describe("the image's build steps", () => {
  it("runtime-manifest.mjs keeps tsx, at the version the project pins, and drops every other devDependency", () => {
    const root = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { devDependencies: Record<string, string>; dependencies?: Record<string, string> };
    expect(root.devDependencies.tsx, "tsx is pinned exactly").toMatch(/^\d+\.\d+\.\d+$/);
    const copy = join(scratch, "package.json");
    writeFileSync(copy, JSON.stringify(root));
    const result = spawnSync(process.execPath, [join(repoRoot, "deploy/docker/runtime-manifest.mjs"), copy], { encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    const rewritten = JSON.parse(readFileSync(copy, "utf8")) as typeof root;
    expect(rewritten.devDependencies).toBeUndefined();
    expect(rewritten.dependencies).toEqual({ ...root.dependencies, tsx: root.devDependencies.tsx });
  });

  it("prune.mjs keeps only the uWebSockets.js bindings this platform loads, in each build", () => {
    const truffle = join(scratch, "node_modules/uWebSockets.js/binaries");
    const btc = join(scratch, "node_modules/@btc-vision/uwebsockets.js");
    mkdirSync(truffle, { recursive: true });
    mkdirSync(btc, { recursive: true });
    const mine = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
    for (const file of [mine, "uws_darwin_arm64_115.node", "uws_win32_x64_108.node", `uws_${process.platform}_${process.arch}_93.node`]) {
      writeFileSync(join(truffle, file), "binary");
    }
    for (const file of [mine, "uws_linux_arm64_137.node", `uws_${process.platform}_${process.arch}_141.node`]) writeFileSync(join(btc, file), "binary");
    writeFileSync(join(btc, "uws.js"), "module.exports = {}");
    const result = spawnSync(process.execPath, [join(repoRoot, "deploy/docker/prune.mjs"), join(scratch, "node_modules")], { encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    expect(readdirSync(truffle)).toEqual([mine]);
    expect(readdirSync(btc).sort()).toEqual([mine, "uws.js"].sort());
  });

  it("prune.mjs fails the build when no uWebSockets.js build has this platform's binding", () => {
    const modules = join(scratch, "none/node_modules");
    const truffle = join(modules, "uWebSockets.js/binaries");
    mkdirSync(truffle, { recursive: true });
    writeFileSync(join(truffle, "uws_win32_x64_108.node"), "binary");
    const result = spawnSync(process.execPath, [join(repoRoot, "deploy/docker/prune.mjs"), modules], { encoding: "utf8" });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/no uWebSockets\.js build has uws_/);
  });

  it("the launcher names the processes it knows and refuses an unknown one (exit 64)", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", join(repoRoot, "launch/src/run.ts"), "no-such-process"], {
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(/unknown or absent process "no-such-process"/);
    for (const spec of PROCESSES.filter((p) => isPresent(p))) expect(result.stderr).toContain(spec.name);
    expect(result.stderr).toMatch(/migrate/);
  });
});
