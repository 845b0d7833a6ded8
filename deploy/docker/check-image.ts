// Image build step, run in the final image as its user: loads the module graph of every
// process (without starting any), so that a dependency missing from the production
// install, tsx, or a native binding that does not load fails the build, not a rollout.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { currentRuntime, findNativeUws, UWS_CANDIDATES } from "@parley/edge/uws";
import { isPresent, PROCESSES, repoRoot } from "@parley/launch";

const problems: string[] = [];

for (const spec of PROCESSES) {
  if (!isPresent(spec)) {
    console.log(`${spec.name}: not in this build`);
    continue;
  }
  // Its launch function holds the whole graph (through its package, as the launcher loads it);
  // importing its entry file would start the process.
  try {
    await spec.launch();
    console.log(`${spec.name}: its launch function loads`);
  } catch (error) {
    problems.push(`${spec.name}: ${(error as Error).message}`);
  }
}
try {
  await import(pathToFileURL(join(repoRoot, "launch/src/migrate.ts")).href);
  console.log("migrate: launch/src/migrate.ts loads");
} catch (error) {
  problems.push(`migrate: ${(error as Error).message}`);
}
// The socket tier refuses uWebSockets.js's slow JavaScript fallback: a native binding must load here.
const { loaded, reasons } = findNativeUws(currentRuntime(), UWS_CANDIDATES);
if (loaded) console.log(`uWebSockets.js: ${loaded.package} ${loaded.version} loads (Node ${process.versions.node}, ABI ${loaded.abi})`);
else problems.push(`uWebSockets.js: no native binding loads: ${reasons.join("; ")}`);

if (problems.length) {
  console.error(`the image is broken:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
