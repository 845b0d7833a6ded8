// Test helpers: which database the suite runs on, and throwaway PostgreSQL
// databases that a test file creates and drops (only its own), the internal credential key
// of the services a test file starts, and a recorder of the SQL a service runs.
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import pg from "pg";
import { pino } from "pino";
import { generateInternalSecret, InternalAuth } from "./internal-auth.js";

/** Set by .ci/run's second pass: run the suite against this PostgreSQL server. */
export const TEST_DATABASE_URL = process.env.PARLEY_TEST_DATABASE_URL || undefined;
/** Set by .ci/run's second pass: run broker and rate-limit tests on this Redis. */
export const TEST_REDIS_URL = process.env.PARLEY_TEST_REDIS_URL || undefined;

/** INTERNAL_AUTH_SECRET of every service a test file starts (one per file: vitest loads modules per file). */
export const TEST_INTERNAL_SECRET = generateInternalSecret();

/** Signs calls to services started with TEST_INTERNAL_SECRET, as `caller`. */
export function testInternalAuth(caller = "test"): InternalAuth {
  return new InternalAuth(TEST_INTERNAL_SECRET, caller);
}

export interface TestDatabase {
  /** DATABASE_URL for the services under test (undefined: embedded PGlite in memory). */
  databaseUrl: string | undefined;
  dataDir: string;
  /** Drops every database this test created. */
  drop(): Promise<void>;
}

/** A fresh database namespace per call: services derive `<name>_<service>` databases from it. */
export function testDatabase(): TestDatabase {
  if (!TEST_DATABASE_URL) return { databaseUrl: undefined, dataDir: "memory://", drop: async () => {} };
  const base = `parley_test_${randomBytes(5).toString("hex")}`;
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${base}`;
  return {
    databaseUrl: url.toString(),
    dataDir: "memory://",
    async drop() {
      const admin = new URL(TEST_DATABASE_URL);
      admin.pathname = "/postgres";
      const client = new pg.Client({ connectionString: admin.toString() });
      await client.connect();
      try {
        const { rows } = await client.query<{ datname: string }>("select datname from pg_database where datname like $1", [`${base}\\_%`]);
        for (const { datname } of rows) await client.query(`drop database if exists "${datname}" with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * A logger at trace level that keeps the SQL statements MikroORM logs (openDatabase turns its
 * query log on at trace), so that a test can compare the work two paths do without timing them.
 * `statements` holds each statement with its literals replaced by `?`.
 */
export function sqlRecorder() {
  const statements: string[] = [];
  const log = pino({ level: "trace" }, {
    write(line: string) {
      const { orm } = JSON.parse(line) as { orm?: string };
      // eslint-disable-next-line no-control-regex
      const text = orm?.replace(/\u001b\[[0-9;]*m/g, "");
      const query = text?.match(/^\[query\] (?:\([^)]*\) )?(.*?)(?: \[took .*)?$/s)?.[1];
      if (query) statements.push(query.replace(/'(?:[^']|'')*'/g, "?").replace(/\b\d+\b/g, "?"));
    },
  });
  return { log, statements };
}

/** A non-loopback IPv4 address of this machine, if it has one (to check what listens on loopback only). */
export function nonLoopbackIPv4(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
}

/** Whether a TCP connection to host:port is accepted. */
export function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
