// Database per service: MikroORM on PostgreSQL when DATABASE_URL is set (the
// service's own database, created if missing), on embedded PGlite otherwise.
// Committed migrations run at start, under a lock so replicas can start together.
//
// Data access, one style in every service (MikroORM's guide: initORM returns the typed
// repositories). A service's db.ts is `initORM = () => dataAccess(orm, (em) => ({ rooms: new
// RoomRepository(em, Room), ... }))`: its repositories extend MikroORM's EntityRepository
// (re-exported here) and hold every query (raw SQL included, through `this.em.execute`,
// which joins the fork's transaction). A handler takes its data through units of work only:
//   - `db.fork()`: the repositories (and `em`, for create/assign/remove/flush) over one new
//     fork; reads and single autocommitted statements.
//   - `db.transactional(async ({ em, rooms }) => ...)`: the same over the fork of a new
//     transaction, flushed and committed when the callback returns.
// A handler may take more than one unit (a check before a remote call, then a transaction);
// each is its own fork with its own identity map. Repositories never fork or open
// transactions themselves: a method that must run in one (it locks rows) says so.
import { MikroORM, type AnyEntity, type Constructor, type EntitySchema } from "@mikro-orm/core";
import { Migrator, type Migration } from "@mikro-orm/migrations";
import { PostgreSqlDriver, type EntityManager } from "@mikro-orm/postgresql";
import { mkdirSync } from "node:fs";
import pg from "pg";
import { lockDataDir } from "./data-dir-lock.js";
import { PgliteDriver, type PgliteExtensionName } from "./db/pglite-driver.js";
import type { Logger } from "./logger.js";

export type Orm = MikroORM<PostgreSqlDriver>;
/** The base of every service's repositories (MikroORM's, over the SQL EntityManager). */
export { EntityRepository } from "@mikro-orm/postgresql";
export type Em = EntityManager;

/** A unit of work: a service's repositories over one fork, and that fork. */
export type Unit<R> = R & { em: Em };

/** What a service's initORM returns (see the top of this file). */
export interface DataAccess<R> {
  orm: Orm;
  /** The root EntityManager: never queried itself (no global context), only forked (tests, migrations). */
  em: Em;
  /** The repositories over a new fork. */
  fork(): Unit<R>;
  /** The repositories over the fork of a new transaction; flushed and committed when `work` returns. */
  transactional<T>(work: (unit: Unit<R>) => Promise<T>): Promise<T>;
}

/** A service's data access: `repositories` builds its repositories over a given fork. */
export function dataAccess<R extends object>(orm: Orm, repositories: (em: Em) => R): DataAccess<R> {
  const unit = (em: Em): Unit<R> => ({ ...repositories(em), em });
  return {
    orm,
    em: orm.em,
    fork: () => unit(orm.em.fork()),
    transactional: (work) => orm.em.fork().transactional((em) => work(unit(em))),
  };
}

export interface DatabaseOptions {
  /** Names the database: `<database of DATABASE_URL>_<service>` on PostgreSQL. */
  service: string;
  entities: EntitySchema<AnyEntity, never>[] | EntitySchema[];
  migrations: { name: string; class: Constructor<Migration> }[];
  /** PostgreSQL server URL; the service uses its own database on that server. */
  databaseUrl?: string;
  /** Embedded mode: the PGlite data directory, or "memory://" for a throwaway database. */
  dataDir?: string;
  /** PostgreSQL extensions the migrations create (loaded into PGlite up front). */
  extensions?: PgliteExtensionName[];
  log: Logger;
  /** Connection pool size on PostgreSQL. */
  poolSize?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<Orm> {
  const { log } = options;
  const common = {
    entities: options.entities as EntitySchema[],
    extensions: [Migrator],
    migrations: {
      migrationsList: options.migrations,
      tableName: "mikro_orm_migrations",
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: false,
    debug: log.isLevelEnabled("trace"),
    logger: (message: string) => log.trace({ orm: message }),
  };
  let orm: Orm;
  if (options.databaseUrl) {
    const url = serviceDatabaseUrl(options.databaseUrl, options.service);
    await ensureDatabase(url);
    orm = await MikroORM.init({
      ...common,
      driver: PostgreSqlDriver,
      clientUrl: url.toString(),
      pool: { min: 0, max: options.poolSize ?? 10 },
    });
    await withMigrationLock(url, () => orm.getMigrator().up());
    log.info({ database: url.pathname.slice(1), host: url.host }, "database ready (PostgreSQL)");
  } else {
    const dataDir = options.dataDir ?? "memory://";
    // Before anything under dataDir is touched: PGlite on a directory another process runs on destroys its data.
    const lock = dataDir.startsWith("memory://") ? undefined : await lockDataDir(dataDir);
    let opened: Orm | undefined;
    try {
      if (lock) mkdirSync(dataDir, { recursive: true });
      opened = (await MikroORM.init({
        ...common,
        driver: PgliteDriver,
        dbName: options.service,
        driverOptions: { dataDir, extensions: options.extensions ?? [] },
      })) as unknown as Orm;
      await opened.getMigrator().up();
    } catch (error) {
      await opened?.close(true).catch(() => undefined);
      await lock?.release();
      throw error;
    }
    orm = opened;
    if (lock) {
      const close = orm.close.bind(orm);
      orm.close = async (force?: boolean) => {
        try {
          await close(force);
        } finally {
          await lock.release();
        }
      };
    }
    log.info({ dataDir }, "database ready (embedded PGlite)");
  }
  return orm;
}

/** postgres://host/parley + "auth" -> postgres://host/parley_auth */
export function serviceDatabaseUrl(databaseUrl: string, service: string): URL {
  const url = new URL(databaseUrl);
  const base = decodeURIComponent(url.pathname.slice(1)) || "parley";
  url.pathname = `/${base}_${service}`;
  return url;
}

/**
 * A database Parley's PostgreSQL mode runs on, refused at start because its encoding is not UTF8: in SQL_ASCII
 * (an `initdb` without a UTF-8 locale) `varchar(n)` counts bytes, so a name of 60 emoji would be refused by the
 * database after the rules took it, and text is stored without any check that it is valid.
 */
export class DatabaseEncodingError extends Error {
  constructor(
    readonly database: string,
    readonly encoding: string,
  ) {
    super(
      `database "${database}" has encoding ${encoding}; Parley needs UTF8. ` +
        `Create it with: create database "${database}" encoding 'UTF8' template template0 (or drop it and let Parley create it)`,
    );
    this.name = "DatabaseEncodingError";
  }
}

async function ensureDatabase(target: URL): Promise<void> {
  const name = decodeURIComponent(target.pathname.slice(1));
  // The server's maintenance database, with the same credentials.
  const admin = new URL(target);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const existing = await client.query<{ encoding: string }>(
      "select pg_encoding_to_char(encoding) as encoding from pg_database where datname = $1",
      [name],
    );
    if (!existing.rowCount) {
      // template0: template1 may carry the server's default encoding (SQL_ASCII after a locale-less initdb).
      // LC_COLLATE/LC_CTYPE stay the server's default; with a non-UTF-8 one, C is taken (valid with any encoding).
      const { rows } = await client.query<{ collate: string }>(
        "select datcollate as collate from pg_database where datname = 'template0'",
      );
      const utf8Locale = /utf-?8/i.test(rows[0]?.collate ?? "") || rows[0]?.collate === "C";
      const locale = utf8Locale ? "" : " lc_collate 'C' lc_ctype 'C'";
      await client
        .query(`create database "${name.replace(/"/g, '""')}" encoding 'UTF8'${locale} template template0`)
        .catch((error: { code?: string }) => {
          // Created meanwhile by a replica: 42P04, or 23505 when both inserted into pg_database at once.
          if (error.code !== "42P04" && error.code !== "23505") throw error;
        });
      return;
    }
    const encoding = existing.rows[0]!.encoding;
    if (encoding !== "UTF8") throw new DatabaseEncodingError(name, encoding);
  } finally {
    await client.end();
  }
}

async function withMigrationLock<T>(url: URL, run: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query("select pg_advisory_lock(hashtext('parley.migrations'))");
    return await run();
  } finally {
    await client.end(); // ends the session, which releases the lock
  }
}
