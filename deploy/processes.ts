// The processes of a distributed Parley: where each entrypoint is, its port, how
// its health is checked, what it must start after, and where its env schema lives.
// One table for the image's launcher (run.ts), start:cluster, the migration runner and the tests.
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (deploy/..). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export type ProcessName = "user" | "room" | "message" | "auth" | "edge" | "socket";

export interface ProcessSpec {
  name: ProcessName;
  /** The entrypoint, relative to the repository root. */
  entry: string;
  /** The port it listens on by default (its PORT). */
  port: number;
  /** grpc: grpc.health.v1 on the port; http: GET /healthz answers 200. */
  health: "grpc" | "http";
  /** Started (and healthy) before this one: the services it calls (no two services call each other). */
  after: ProcessName[];
  /** The services it calls: it needs their `<NAME>_SERVICE_ADDR`. */
  calls: ProcessName[];
  /** Its own database (services/<name>/src/db.ts with initORM): it needs DATABASE_URL. */
  database?: string;
  /** The module and export of its zod env schema. */
  envSchema: { module: string; exportName: string };
}

/** In start order. */
export const PROCESSES: readonly ProcessSpec[] = [
  {
    name: "user",
    entry: "services/user/src/main.ts",
    port: 3002,
    health: "grpc",
    after: [],
    calls: [],
    database: "services/user/src/db.ts",
    envSchema: { module: "services/user/src/env.ts", exportName: "userEnv" },
  },
  {
    name: "room",
    entry: "services/room/src/main.ts",
    port: 3003,
    health: "grpc",
    after: ["user"],
    calls: ["user"],
    database: "services/room/src/db.ts",
    envSchema: { module: "services/room/src/env.ts", exportName: "roomEnv" },
  },
  {
    name: "message",
    entry: "services/message/src/main.ts",
    port: 3004,
    health: "grpc",
    after: ["room"],
    calls: ["room"],
    database: "services/message/src/db.ts",
    envSchema: { module: "services/message/src/env.ts", exportName: "messageEnv" },
  },
  {
    name: "auth",
    entry: "services/auth/src/main.ts",
    port: 3001,
    health: "grpc",
    after: ["user"],
    calls: ["user"],
    database: "services/auth/src/db.ts",
    envSchema: { module: "services/auth/src/env.ts", exportName: "authEnv" },
  },
  {
    name: "edge",
    entry: "edge/src/main.ts",
    port: 8080,
    health: "http",
    after: ["auth", "user", "room", "message"],
    calls: ["auth", "user", "room", "message"],
    envSchema: { module: "edge/src/env.ts", exportName: "edgeEnv" },
  },
  {
    name: "socket",
    entry: "edge/src/socket/main.ts",
    port: 3007,
    health: "http",
    after: ["auth", "room", "message"],
    calls: ["auth", "room", "message"],
    envSchema: { module: "edge/src/socket/env.ts", exportName: "socketEnv" },
  },
];

export function processSpec(name: string): ProcessSpec | undefined {
  return PROCESSES.find((p) => p.name === name);
}

/** Whether this checkout has the process (its entrypoint file exists). */
export function isPresent(spec: ProcessSpec, root = repoRoot): boolean {
  return existsSync(join(root, spec.entry));
}

/** `<NAME>_SERVICE_ADDR` of a service. */
export const addressVariable = (name: ProcessName) => `${name.toUpperCase()}_SERVICE_ADDR`;

/** The migration runner reads `<NAME>_DATABASE_URL`, falling back to DATABASE_URL. */
export const databaseVariable = (name: ProcessName) => `${name.toUpperCase()}_DATABASE_URL`;
