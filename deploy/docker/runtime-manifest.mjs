// Image build step: rewrites the root package.json so that `npm ci --omit=dev`
// installs what the processes need at run time, and nothing else:
// - tsx runs the TypeScript sources (there is no build step), but the project keeps it
//   among its devDependencies: it becomes a dependency, at the version the project pins;
// - every other devDependency (vitest, typescript, buf, schema validators) is dropped, so
//   `npm ci` neither installs nor resolves it.
// The lockfile is untouched: the versions installed are the locked ones.
// Usage: node runtime-manifest.mjs path/to/package.json
import { readFileSync, writeFileSync } from "node:fs";

const RUNTIME_TOOLS = ["tsx"];

const path = process.argv[2] ?? "package.json";
const manifest = JSON.parse(readFileSync(path, "utf8"));
const dev = manifest.devDependencies ?? {};
manifest.dependencies ??= {};
for (const name of RUNTIME_TOOLS) {
  const version = dev[name] ?? manifest.dependencies[name];
  if (!version) throw new Error(`${path}: ${name} is needed at run time but is not in the dependencies`);
  manifest.dependencies[name] = version;
}
delete manifest.devDependencies;
writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`runtime dependencies of the root: ${JSON.stringify(manifest.dependencies)}`);
