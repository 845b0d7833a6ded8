// Image build step, run in the final image as its user: loads the module graph of every
// process (without starting any), so that a dependency missing from the production
// install, tsx, or a native binding that does not load fails the build, not a rollout.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { currentRuntime, findNativeUws, UWS_CANDIDATES } from "../../edge/src/socket/uws.js";
import { isPresent, PROCESSES, repoRoot } from "../processes.js";

const problems: string[] = [];

for (const spec of PROCESSES) {
  if (!isPresent(spec)) {
    console.log(`${spec.name}: not in this build`);
    continue;
  }
  // launch.ts beside main.ts holds the whole graph; importing main.ts would start the process.
  const launch = join(repoRoot, spec.entry.replace(/main\.ts$/, "launch.ts"));
  try {
    await import(pathToFileURL(launch).href);
    console.log(`${spec.name}: ${spec.entry.replace(/main\.ts$/, "launch.ts")} loads`);
  } catch (error) {
    problems.push(`${spec.name}: ${(error as Error).message}`);
  }
}
try {
  await import(pathToFileURL(join(repoRoot, "deploy/migrate.ts")).href);
  console.log("migrate: deploy/migrate.ts loads");
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
