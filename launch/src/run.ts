// The image's entrypoint: `node --import tsx launch/src/run.ts <process>` runs one
// Parley process in this Node.js process (no shell, so signals reach it directly).
//   auth | user | room | message | edge | socket   one process of the distributed mode
//   migrate                                         run every service's migrations, then exit
//   admin-token [--minutes N]                       print an admin credential (launch/src/admin-token.ts)
//   all-in-one                                      every service in one process (npm start)
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { isPresent, PROCESSES, processSpec, repoRoot } from "./processes.js";

const EXTRA: Record<string, string> = {
  migrate: "launch/src/migrate.ts",
  "admin-token": "launch/src/admin-token.ts",
  "all-in-one": "launch/src/main.ts",
};

const name = process.argv[2] ?? "";
const spec = processSpec(name);
const entry = spec?.entry ?? EXTRA[name];

if (!entry || (spec && !isPresent(spec))) {
  const available = [...PROCESSES.filter((p) => isPresent(p)).map((p) => p.name), ...Object.keys(EXTRA)];
  const asked = name !== "" && name !== "help" && name !== "--help";
  process.stderr.write(
    `${asked ? `unknown or absent process "${name}"` : "which process?"}\n` +
      `usage: node --import tsx launch/src/run.ts <process>\nprocesses: ${available.join(", ")}\n`,
  );
  process.exit(64); // EX_USAGE
}

if (name === "migrate") await (await import("./migrate.js")).main();
else if (name === "admin-token") await (await import("./admin-token.js")).main(process.argv.slice(3));
else await import(pathToFileURL(join(repoRoot, entry)).href);
