// Runs the committed migrations of every service's database, then exits: the
// Kubernetes migration Job and the compose `migrate` service. Services also migrate
// at start (under the same advisory lock), so running this first is optional; it
// makes an upgrade's schema change happen once, before any new replica starts.
//
// Each service's database URL is `<NAME>_DATABASE_URL` (e.g. AUTH_DATABASE_URL),
// falling back to DATABASE_URL; like the services, a URL names the server and the
// base name, and each service uses `<base>_<service>` on it, created if missing.
// Without any URL, the embedded databases under DATA_DIR are migrated.
import { createLogger, DataDirInUseError, type Logger, type Orm } from "@parley/kit";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { databaseVariable, PROCESSES, repoRoot, type ProcessName } from "./processes.js";

interface DatabaseModule {
  initORM(options: { databaseUrl?: string; dataDir?: string; log: Logger }): Promise<{ orm: Orm }>;
}

export interface MigrationResult {
  service: ProcessName;
  database: string;
  ms: number;
}

/** Migrates every service whose database module exists in this checkout, one after the other. */
export async function migrateAll(env: NodeJS.ProcessEnv = process.env, log: Logger = createLogger("migrate", env.LOG_LEVEL)) {
  const results: MigrationResult[] = [];
  for (const spec of PROCESSES) {
    if (!spec.database) continue;
    const modulePath = join(repoRoot, spec.database);
    if (!existsSync(modulePath)) {
      log.warn({ migrating: spec.name }, "no database module in this build: skipped");
      continue;
    }
    const databaseUrl = env[databaseVariable(spec.name)] || env.DATABASE_URL || undefined;
    const dataDir = `${env.DATA_DIR || "./data"}/${spec.name}`;
    const started = performance.now();
    const { initORM } = (await import(pathToFileURL(modulePath).href)) as DatabaseModule;
    const { orm } = await initORM({ databaseUrl, dataDir, log: log.child({ migrating: spec.name }) });
    await orm.close(true);
    const database = databaseUrl ? `postgresql ${new URL(databaseUrl).host}` : `embedded ${dataDir}`;
    results.push({ service: spec.name, database, ms: Math.round(performance.now() - started) });
    log.info({ migrating: spec.name, database }, "migrations applied");
  }
  return results;
}

/** The command: migrate, exit 0 when every database is migrated, 1 otherwise. */
export async function main(): Promise<never> {
  const log = createLogger("migrate", process.env.LOG_LEVEL);
  try {
    const results = await migrateAll(process.env, log);
    log.info({ services: results.map((r) => r.service) }, "every database is migrated");
    process.exit(0);
  } catch (error) {
    if (error instanceof DataDirInUseError) process.stderr.write(`migrate: ${error.message}\n`);
    else log.fatal({ err: error }, "migration failed");
    process.exit(1);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
