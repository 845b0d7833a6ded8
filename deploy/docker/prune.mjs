// Image build step: drops the parts of installed packages that this platform can never
// load. uWebSockets.js ships native bindings for every OS, CPU and Node ABI (~110 MB);
// it loads only uws_<platform>_<arch>_<abi>.node, so the others go.
// Usage: node prune.mjs path/to/node_modules
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const nodeModules = process.argv[2] ?? "node_modules";
let freed = 0;

const uwsBinaries = join(nodeModules, "uWebSockets.js", "binaries");
if (existsSync(uwsBinaries)) {
  const keep = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  const files = readdirSync(uwsBinaries);
  if (!files.includes(keep)) throw new Error(`uWebSockets.js has no ${keep}: the socket tier could not load its native binding`);
  for (const file of files) {
    if (file === keep) continue;
    freed += statSync(join(uwsBinaries, file)).size;
    rmSync(join(uwsBinaries, file));
  }
  console.log(`uWebSockets.js: kept ${keep}`);
}
console.log(`pruned ${(freed / 1024 / 1024).toFixed(1)} MiB`);
