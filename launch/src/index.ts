// @parley/launch: everything that starts Parley, over one process table (processes.ts).
export {
  addressVariable,
  databaseVariable,
  isPresent,
  PROCESS_NAMES,
  PROCESSES,
  ProcessCycleError,
  processSpec,
  repoRoot,
  startOrder,
  type Closure,
  type ProcessName,
  type ProcessSpec,
} from "./processes.js";
export { startParley, type RunningParley, type StartOptions } from "./all-in-one.js";
export { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, startCluster, type ClusterInstance, type ClusterOptions, type RunningCluster } from "./cluster.js";
export { migrateAll, type MigrationResult } from "./migrate.js";
