// MikroORM driver on embedded PGlite: `driverOptions: { pglite }` uses your instance (you close it); otherwise `{ dataDir?, extensions? }` creates one (in memory by default) that orm.close() closes.
//
// Design notes:
// - `PgliteDriver` is `PostgreSqlDriver` (same platform, schema helper, exception converter) with the
//   connection swapped for `PgliteConnection`, whose knex client is `PgliteKnexDialect`: MikroORM's
//   `PostgreSqlKnexDialect` (its compiler patches intact) with the raw-connection methods re-pointed
//   from `pg.Client` to the PGlite instance.
// - PGlite is a single session, so the knex pool is pinned to exactly one connection (the PGlite
//   object itself). A transaction holds it from BEGIN to COMMIT/ROLLBACK, so concurrent transactions
//   and queries queue behind it instead of interleaving into someone else's transaction.
// - Results are shaped and typed like node-postgres: `{ command, rowCount, rows, fields }`, values
//   parsed with pg's type parsers (including MikroORM's overrides that keep date/timestamp/interval
//   as strings), bound parameters serialised with pg's `prepareValue`. PGlite's own parsers differ
//   (int8 -> number, timestamps -> Date, NULL array elements -> 'NULL'), so they are overridden.
import { createRequire } from "node:module";
import { PGlite, type Extension, type PGliteOptions, type Results } from "@electric-sql/pglite";
import type { Configuration, Dictionary } from "@mikro-orm/core";
import { PostgreSqlKnexDialect, type Knex } from "@mikro-orm/knex";
import { PostgreSqlConnection, PostgreSqlDriver } from "@mikro-orm/postgresql";

const require = createRequire(import.meta.url);

/** PGlite extensions the driver can load into an instance it creates (SQL still has to `create extension`). */
const EXTENSION_LOADERS = {
  amcheck: async () => (await import("@electric-sql/pglite/contrib/amcheck")).amcheck,
  auto_explain: async () => (await import("@electric-sql/pglite/contrib/auto_explain")).auto_explain,
  bloom: async () => (await import("@electric-sql/pglite/contrib/bloom")).bloom,
  btree_gin: async () => (await import("@electric-sql/pglite/contrib/btree_gin")).btree_gin,
  btree_gist: async () => (await import("@electric-sql/pglite/contrib/btree_gist")).btree_gist,
  citext: async () => (await import("@electric-sql/pglite/contrib/citext")).citext,
  cube: async () => (await import("@electric-sql/pglite/contrib/cube")).cube,
  earthdistance: async () => (await import("@electric-sql/pglite/contrib/earthdistance")).earthdistance,
  fuzzystrmatch: async () => (await import("@electric-sql/pglite/contrib/fuzzystrmatch")).fuzzystrmatch,
  hstore: async () => (await import("@electric-sql/pglite/contrib/hstore")).hstore,
  isn: async () => (await import("@electric-sql/pglite/contrib/isn")).isn,
  lo: async () => (await import("@electric-sql/pglite/contrib/lo")).lo,
  ltree: async () => (await import("@electric-sql/pglite/contrib/ltree")).ltree,
  pg_trgm: async () => (await import("@electric-sql/pglite/contrib/pg_trgm")).pg_trgm,
  seg: async () => (await import("@electric-sql/pglite/contrib/seg")).seg,
  tablefunc: async () => (await import("@electric-sql/pglite/contrib/tablefunc")).tablefunc,
  tcn: async () => (await import("@electric-sql/pglite/contrib/tcn")).tcn,
  tsm_system_rows: async () => (await import("@electric-sql/pglite/contrib/tsm_system_rows")).tsm_system_rows,
  tsm_system_time: async () => (await import("@electric-sql/pglite/contrib/tsm_system_time")).tsm_system_time,
  uuid_ossp: async () => (await import("@electric-sql/pglite/contrib/uuid_ossp")).uuid_ossp,
  vector: async () => (await import("@electric-sql/pglite/vector")).vector,
  pg_ivm: async () => (await import("@electric-sql/pglite/pg_ivm")).pg_ivm,
} satisfies Record<string, () => Promise<Extension>>;

/** Name of a PGlite extension bundle (module name, e.g. `pg_trgm`, `uuid_ossp`, `vector`). */
export type PgliteExtensionName = keyof typeof EXTENSION_LOADERS;

/** What `driverOptions` accepts with `driver: PgliteDriver`. */
export interface PgliteDriverOptions {
  /** An existing PGlite instance. The caller owns it: `orm.close()` leaves it open. */
  pglite?: PGlite;
  /** Data directory of the PGlite the driver creates (ignored with `pglite`); default in memory. */
  dataDir?: string;
  /** Extensions to load into the PGlite the driver creates (ignored with `pglite`). */
  extensions?: PgliteExtensionName[];
  /** Further options for the PGlite the driver creates (ignored with `pglite`). */
  pgliteOptions?: Omit<PGliteOptions, "dataDir" | "extensions">;
}

const PGLITE_OPTION_KEYS = ["pglite", "dataDir", "extensions", "pgliteOptions"] as const;

// --- node-postgres compatibility -------------------------------------------------------------

type TypeParser = (value: string) => unknown;
interface PgTypes {
  getTypeParser(oid: number, format?: "text"): TypeParser;
}
/** node-postgres' parameter conversion (Date, Buffer, arrays, objects, toPostgres) — what `pg` sends. */
const { prepareValue } = require("pg/lib/utils.js") as { prepareValue(value: unknown): unknown };
const pgDefaultTypes = (require("pg") as { types: PgTypes }).types;

/** PGlite picks a serialiser per parameter type; values are already pg text, so pass them through. */
function passThrough(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("hex")}`;
  return String(value);
}
const PASS_THROUGH_SERIALIZERS = new Proxy({} as Record<number, (value: unknown) => string>, {
  get: () => passThrough,
});

/** A result in node-postgres' shape, which knex's `processResponse` and MikroORM expect. */
export interface PgResult {
  command: string | null;
  rowCount: number | null;
  oid: null;
  rows: unknown[];
  fields: { name: string; dataTypeID: number }[];
  rowAsArray: boolean;
}

const ROW_COUNT_COMMANDS = new Set(["INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "MOVE", "FETCH"]);
const CTE_BODY_KEYWORDS = new Set(["SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE"]);

function skipQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const ch = sql[i];
    if (backslashEscapes && ch === "\\") i += 2;
    else if (ch === quote) {
      if (sql[i + 1] !== quote) return i + 1;
      i += 2;
    } else i++;
  }
  return sql.length;
}

const IDENT_CHAR = /[\p{L}\p{N}_$]/u;
const IDENT_START = /[\p{L}_]/u;
const DOLLAR_TAG = /\$(?:[\p{L}_][\p{L}\p{N}_]*)?\$/uy;

/**
 * The command tag (as node-postgres reports it in `result.command`) of each non-empty top-level
 * statement in `sql`. Skips comments, string/identifier/dollar quoting; for `WITH` it reports the
 * statement after the CTE list. PGlite does not expose command tags, hence this.
 */
export function statementCommands(sql: string): string[] {
  const commands: string[] = [];
  let depth = 0;
  let command: string | undefined;
  let inWith = false;
  let hasContent = false;
  const finish = (): void => {
    if (hasContent) commands.push(command === "VALUES" || command === "TABLE" ? "SELECT" : (command ?? ""));
    command = undefined;
    inWith = false;
    hasContent = false;
    depth = 0;
  };
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    if (ch === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? sql.length : end + 1;
      continue;
    }
    if (ch === "/" && next === "*") {
      let nesting = 1;
      i += 2;
      while (i < sql.length && nesting > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") (nesting++, (i += 2));
        else if (sql[i] === "*" && sql[i + 1] === "/") (nesting--, (i += 2));
        else i++;
      }
      continue;
    }
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === ";" && depth === 0) {
      finish();
      i++;
      continue;
    }
    hasContent = true;
    const prev = sql[i - 1];
    if (ch === "'") {
      const escapes = (prev === "E" || prev === "e") && !IDENT_CHAR.test(sql[i - 2] ?? "");
      i = skipQuoted(sql, i, "'", escapes);
    } else if (ch === '"') {
      i = skipQuoted(sql, i, '"', false);
    } else if (ch === "$" && !IDENT_CHAR.test(prev ?? "")) {
      DOLLAR_TAG.lastIndex = i;
      const tag = DOLLAR_TAG.exec(sql)?.[0];
      if (tag) {
        const end = sql.indexOf(tag, i + tag.length);
        i = end < 0 ? sql.length : end + tag.length;
      } else i++;
    } else if (ch === "(") {
      depth++;
      i++;
    } else if (ch === ")") {
      depth = Math.max(0, depth - 1);
      i++;
    } else if (IDENT_START.test(ch)) {
      let end = i + 1;
      while (end < sql.length && IDENT_CHAR.test(sql[end]!)) end++;
      const word = sql.slice(i, end).toUpperCase();
      if (command === undefined) {
        command = word;
        inWith = word === "WITH";
      } else if (inWith && depth === 0 && CTE_BODY_KEYWORDS.has(word)) {
        command = word;
        inWith = false;
      }
      i = end;
    } else i++;
  }
  finish();
  return commands;
}

function toPgResult(res: Results<unknown>, command: string | null, affectedRows: number, rowAsArray: boolean): PgResult {
  const fields = res.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID }));
  let rowCount: number | null = null;
  if (command && ROW_COUNT_COMMANDS.has(command)) rowCount = affectedRows;
  else if (fields.length > 0 || command === "SELECT") rowCount = res.rows.length;
  else if (!command && affectedRows > 0) rowCount = affectedRows;
  return { command: command || (fields.length > 0 ? "SELECT" : null), rowCount, oid: null, rows: res.rows, fields, rowAsArray };
}

// --- knex dialect ----------------------------------------------------------------------------

interface KnexQueryObject {
  sql: string;
  bindings?: unknown[];
  options?: { rowMode?: string };
  method?: string;
  response?: PgResult | PgResult[];
}

type PgliteProvider = () => Promise<PGlite>;

const parserCache = new WeakMap<object, Promise<Record<number, TypeParser>>>();

/** Callback-style facade so knex's own `checkVersion`/`setSchemaSearchPath` logic can run on PGlite. */
function callbackFacade(pglite: PGlite) {
  return {
    query(sql: string, callback: (error: unknown, result?: Results<unknown>) => void): void {
      pglite.query(sql).then((result) => callback(null, result), (error: unknown) => callback(error));
    },
  };
}

/**
 * MikroORM's PostgreSQL knex dialect with the connection layer moved from `pg` to PGlite.
 * The "raw connection" is the PGlite instance itself; there is only ever one.
 */
export class PgliteKnexDialect extends PostgreSqlKnexDialect {
  declare config: Knex.Config & { pgliteProvider?: PgliteProvider; connection?: { types?: PgTypes } };
  declare version?: string;

  /** Nothing to load: PGlite is handed over by the driver (this keeps knex from requiring `pg`). */
  _driver(): object {
    return {};
  }

  async acquireRawConnection(): Promise<PGlite> {
    const provider = this.config.pgliteProvider;
    if (!provider) throw new Error("PgliteKnexDialect: no PGlite instance configured");
    const pglite = await provider();
    await pglite.waitReady;
    if (!this.version) this.version = await this.checkVersion(pglite);
    await this.setSchemaSearchPath(pglite);
    await this.typeParsers(pglite);
    return pglite;
  }

  /** The PGlite instance outlives the pool (the driver closes it), so the pool never ends it. */
  async destroyRawConnection(): Promise<void> {}

  validateConnection(connection: PGlite): boolean {
    return !connection.closed;
  }

  checkVersion(connection: PGlite): Promise<string> {
    return super.checkVersion(callbackFacade(connection));
  }

  setSchemaSearchPath(connection: PGlite, searchPath?: string | string[]): Promise<boolean> {
    return super.setSchemaSearchPath(callbackFacade(connection), searchPath);
  }

  /**
   * node-postgres' text parsers (with MikroORM's overrides, which arrive as `connection.types`) for
   * every type that either pg or PGlite would parse; everything else stays a string, as with pg.
   */
  typeParsers(pglite: PGlite): Promise<Record<number, TypeParser>> {
    // Cached per knex config, not on `this`: knex clones the client per transaction
    // (Object.create + copied fields), so instance state would not be seen there.
    let cached = parserCache.get(this.config);
    if (cached) return cached;
    cached = (async () => {
      const types: PgTypes = this.config.connection?.types ?? pgDefaultTypes;
      const unparsed = types.getTypeParser(0, "text");
      const pgliteParsers = (pglite as { parsers?: Record<string, unknown> }).parsers ?? {};
      const { rows } = await pglite.query<{ oid: number }>("select oid::int4 as oid from pg_catalog.pg_type");
      const parsers: Record<number, TypeParser> = {};
      for (const { oid } of rows) {
        const parse = types.getTypeParser(oid, "text");
        if (parse !== unparsed || oid in pgliteParsers) parsers[oid] = (value: string) => parse(value);
      }
      return parsers;
    })();
    parserCache.set(this.config, cached);
    cached.catch(() => parserCache.delete(this.config));
    return cached;
  }

  async _query(connection: PGlite, obj: KnexQueryObject): Promise<KnexQueryObject> {
    if (!obj.sql) throw new Error("The query is empty");
    const rowMode = obj.options?.rowMode === "array" ? "array" : "object";
    const parsers = await this.typeParsers(connection);
    const bindings = obj.bindings ?? [];
    if (bindings.length > 0) {
      // Extended protocol, one statement, `$n` placeholders (knex already positioned them).
      const values = bindings.map((value) => prepareValue(value));
      const res = await connection.query(obj.sql, values, { rowMode, parsers, serializers: PASS_THROUGH_SERIALIZERS });
      obj.response = toPgResult(res, statementCommands(obj.sql)[0] ?? null, res.affectedRows ?? 0, rowMode === "array");
      return obj;
    }
    // No parameters: simple protocol like pg, so several statements per call work (migrations do that).
    const results = await connection.exec(obj.sql, { rowMode, parsers });
    const commands = statementCommands(obj.sql);
    const aligned = commands.length === results.length;
    // PGlite 0.3.x accumulates `affectedRows` across the statements of one exec(); undo that.
    let before = 0;
    const shaped = results.map((res, i) => {
      const total = res.affectedRows ?? 0;
      const affected = results.length > 1 ? Math.max(0, total - before) : total;
      before = total;
      return toPgResult(res, aligned ? commands[i]! : null, affected, rowMode === "array");
    });
    obj.response = shaped.length === 1 ? shaped[0]! : shaped;
    return obj;
  }

  /** Streams by buffering (PGlite has no cursors over the wire here); enough for `.stream()` callers. */
  async _stream(connection: PGlite, obj: KnexQueryObject, stream: NodeJS.WritableStream): Promise<void> {
    try {
      const { response } = await this._query(connection, obj);
      const results = Array.isArray(response) ? response : response ? [response] : [];
      for (const result of results) for (const row of result.rows) stream.write(row as never);
      stream.end();
    } catch (error) {
      stream.emit("error", error);
      throw error;
    }
  }
}
// pg_cancel_backend from a second connection is impossible on a single-session database.
(PgliteKnexDialect.prototype as { canCancelQuery?: boolean }).canCancelQuery = false;

// --- MikroORM connection and driver ----------------------------------------------------------

export class PgliteConnection extends PostgreSqlConnection {
  /** Set by `PgliteDriver`; resolves the (shared) PGlite instance. */
  pgliteProvider?: PgliteProvider;

  override createKnex(): void {
    this.client = this.createKnexClient(PgliteKnexDialect as unknown as string);
    (this.client.client as { ormConfig?: Configuration }).ormConfig = this.config;
    this.connected = true;
  }

  /** Connects, then points `dbName` at the one database PGlite serves (so `ensureDatabase` finds it). */
  override async connect(): Promise<void> {
    this.createKnex();
    const row = await this.execute<{ db: string }>("select current_database() as db", [], "get");
    if (row.db && this.config.get("dbName") !== row.db) {
      this.logger.log("info", `PGlite serves database "${row.db}"; using it instead of "${this.config.get("dbName")}"`);
      this.config.set("dbName", row.db);
    }
  }

  override getClientUrl(): string {
    const options = (this.config.get("driverOptions") ?? {}) as PgliteDriverOptions;
    const dataDir = options.pglite ? options.pglite.dataDir : options.dataDir;
    return `pglite://${dataDir && dataDir !== "memory://" ? dataDir : "memory"}`;
  }

  protected override getKnexOptions(type: string): Knex.Config {
    const options = super.getKnexOptions(type) as Knex.Config & Dictionary;
    for (const key of PGLITE_OPTION_KEYS) delete options[key];
    const pool = (options.pool ?? {}) as Knex.PoolConfig;
    // One session: every acquire gets the same PGlite; transactions and queries queue for it.
    options.pool = { ...pool, min: 1, max: 1 };
    options.pgliteProvider = () => this.getPglite();
    return options;
  }

  private getPglite(): Promise<PGlite> {
    if (this.pgliteProvider) return this.pgliteProvider();
    return (this.config.getDriver() as unknown as PgliteDriver).getPglite();
  }
}

/**
 * PostgreSQL driver running on PGlite (embedded PostgreSQL, WASM, in process).
 * See `PgliteDriverOptions` for `driverOptions`. `dbName` is required by MikroORM but PGlite
 * serves a single database (`template1`); the driver switches `dbName` to it on connect.
 */
export class PgliteDriver extends PostgreSqlDriver {
  #pglite?: Promise<PGlite>;
  #owned = false;
  #reconnecting = false;

  constructor(config: Configuration) {
    super(config);
    const connection = new PgliteConnection(config);
    connection.pgliteProvider = () => this.getPglite();
    (this as unknown as { connection: PgliteConnection }).connection = connection;
  }

  protected override createReplicas(): PostgreSqlConnection[] {
    if ((this.config.get("replicas") ?? []).length > 0) {
      throw new Error("PgliteDriver does not support read replicas (PGlite is a single in-process database)");
    }
    return [];
  }

  /** The PGlite instance: the one from `driverOptions.pglite`, or one created on first use. */
  getPglite(): Promise<PGlite> {
    this.#pglite ??= this.openPglite();
    return this.#pglite;
  }

  private async openPglite(): Promise<PGlite> {
    const options = (this.config.get("driverOptions") ?? {}) as PgliteDriverOptions;
    if (options.pglite) {
      if (typeof options.pglite.query !== "function" || typeof options.pglite.exec !== "function") {
        throw new Error("driverOptions.pglite must be a PGlite instance");
      }
      this.#owned = false;
      return options.pglite;
    }
    const extensions: Record<string, Extension> = {};
    for (const name of options.extensions ?? []) {
      const load = EXTENSION_LOADERS[name];
      if (!load) throw new Error(`Unknown PGlite extension "${name}"`);
      extensions[name] = await load();
    }
    this.#owned = true;
    const pglite = new PGlite(options.dataDir, { ...options.pgliteOptions, extensions });
    try {
      await pglite.waitReady;
    } catch (error) {
      this.#pglite = undefined;
      throw error;
    }
    return pglite;
  }

  /** Recreates the knex client but keeps the PGlite instance (and so an in-memory database). */
  override async reconnect(): Promise<PostgreSqlConnection> {
    this.#reconnecting = true;
    try {
      return await super.reconnect();
    } finally {
      this.#reconnecting = false;
    }
  }

  /** Closes the knex pool, then the PGlite instance if this driver created it. */
  override async close(force?: boolean): Promise<void> {
    await super.close(force);
    if (this.#reconnecting || !this.#owned || !this.#pglite) return;
    const opening = this.#pglite;
    this.#pglite = undefined;
    const pglite = await opening.catch(() => undefined);
    if (pglite && !pglite.closed) await pglite.close();
  }
}
