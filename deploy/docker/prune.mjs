// Image build step: drops the parts of installed packages that this platform can never
// load. Each uWebSockets.js build (edge/src/socket/uws.ts tries them in order) ships native
// bindings for every OS, CPU and Node ABI (~110 MB each); the loader loads only
// uws_<platform>_<arch>_<abi>.node, so the others go. At least one build must have it.
// Usage: node prune.mjs path/to/node_modules
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const nodeModules = process.argv[2] ?? "node_modules";
const UWS_BINARY_DIRS = ["uWebSockets.js/binaries", "@btc-vision/uwebsockets.js"];
const keep = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
let freed = 0;
const kept = [];

for (const dir of UWS_BINARY_DIRS.map((d) => join(nodeModules, d)).filter((d) => existsSync(d))) {
  for (const file of readdirSync(dir).filter((f) => /^uws_.*\.node$/.test(f))) {
    if (file === keep) {
      kept.push(join(dir, file));
      continue;
    }
    freed += statSync(join(dir, file)).size;
    rmSync(join(dir, file));
  }
}
if (kept.length === 0) throw new Error(`no uWebSockets.js build has ${keep}: the socket tier could not load a native binding`);
console.log(`uWebSockets.js: kept ${kept.join(", ")}`);
console.log(`pruned ${(freed / 1024 / 1024).toFixed(1)} MiB`);
