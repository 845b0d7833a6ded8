import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { defineEntity, LockMode, MikroORM, UniqueConstraintViolationException, type InferEntity, type LoggerNamespace } from "@mikro-orm/core";
import { Migration, Migrator } from "@mikro-orm/migrations";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgliteDriver, statementCommands, type PgliteDriverOptions } from "../src/db/pglite-driver.js";

const Thing = defineEntity({
  name: "Thing",
  tableName: "things",
  properties: (p) => ({
    id: p.uuid().primary().onCreate(() => randomUUID()),
    name: p.text().unique(),
    big: p.bigint(),
    at: p.datetime(),
    active: p.boolean(),
    data: p.json<{ level: number; tags: string[] }>(),
    labels: p.array(),
    note: p.text().nullable(),
    seenAt: p.datetime().nullable(),
  }),
});
type Thing = InferEntity<typeof Thing>;

const Counter = defineEntity({
  name: "Counter",
  tableName: "counters",
  properties: (p) => ({
    id: p.text().primary(),
    value: p.integer(),
  }),
});

class Migration20260101000000_things extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "things" (
      "id" uuid not null, "name" text not null, "big" bigint not null, "at" timestamptz not null,
      "active" boolean not null, "data" jsonb not null, "labels" text[] not null,
      "note" text null, "seen_at" timestamptz null,
      constraint "things_pkey" primary key ("id"));`);
    this.addSql(`alter table "things" add constraint "things_name_unique" unique ("name");`);
    this.addSql(`create table "counters" ("id" text not null, "value" int not null, constraint "counters_pkey" primary key ("id"));`);
  }
}

function ormOptions(driverOptions: PgliteDriverOptions, log?: string[]) {
  const debug: LoggerNamespace[] | false = log ? ["query"] : false;
  return {
    driver: PgliteDriver,
    dbName: "kit_test",
    driverOptions,
    entities: [Thing, Counter],
    extensions: [Migrator],
    migrations: {
      migrationsList: [{ name: "Migration20260101000000_things", class: Migration20260101000000_things }],
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: false,
    debug,
    logger: (message: string) => log?.push(message.replace(/\x1b\[[0-9;]*m/g, "")),
  };
}

describe("PgliteDriver on in-memory PGlite", { timeout: 30_000 }, () => {
  let orm: MikroORM<PgliteDriver>;
  const log: string[] = [];

  beforeAll(async () => {
    orm = await MikroORM.init<PgliteDriver>(ormOptions({}, log));
    await orm.getMigrator().up();
  }, 60_000);

  afterAll(async () => {
    await orm?.close();
  });

  it("runs the migration, and the schema matches the entities afterwards", async () => {
    const executed = await orm.getMigrator().getExecutedMigrations();
    expect(executed.map((m) => m.name)).toEqual(["Migration20260101000000_things"]);
    // Schema introspection (information_schema / pg_catalog queries) works on PGlite too.
    expect(await orm.schema.getUpdateSchemaSQL({ wrap: false })).toBe("");
    expect(orm.config.get("dbName")).toBe("template1");
  });

  it("round-trips uuid, text, bigint, Date, boolean, jsonb, text[] and nullable fields", async () => {
    const at = new Date("2024-05-06T07:08:09.123Z");
    const em = orm.em.fork();
    const full = em.create(Thing, {
      name: "full",
      big: 9007199254740993n, // above Number.MAX_SAFE_INTEGER
      at,
      active: true,
      data: { level: 3, tags: ["a", "b"] },
      labels: ["x", "y, z", 'q"uote'],
      note: "hello",
      seenAt: new Date("2020-02-29T23:59:59.999Z"),
    });
    em.create(Thing, { name: "sparse", big: -5n, at, active: false, data: { level: 0, tags: [] }, labels: [] });
    await em.flush();

    const rows = await orm.em.fork().find(Thing, {}, { orderBy: { name: "asc" } });
    expect(rows).toHaveLength(2);
    const [loaded, sparse] = rows as [Thing, Thing];
    expect(loaded.id).toBe(full.id);
    expect(loaded.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(loaded.big).toBe(9007199254740993n);
    expect(loaded.at).toBeInstanceOf(Date);
    expect(loaded.at.toISOString()).toBe(at.toISOString());
    expect(loaded.seenAt?.toISOString()).toBe("2020-02-29T23:59:59.999Z");
    expect(loaded.active).toBe(true);
    expect(loaded.data).toEqual({ level: 3, tags: ["a", "b"] });
    expect(loaded.labels).toEqual(["x", "y, z", 'q"uote']);
    expect(loaded.note).toBe("hello");
    expect(sparse).toMatchObject({ big: -5n, active: false, labels: [], note: null, seenAt: null });

    // Query by each kind of value, and update through the unit of work.
    const em2 = orm.em.fork();
    const found = await em2.findOneOrFail(Thing, { big: 9007199254740993n, active: true, at, data: { level: 3 } });
    found.note = null;
    found.labels = [...found.labels, "w"];
    await em2.flush();
    const again = await orm.em.fork().findOneOrFail(Thing, { id: full.id });
    expect(again.note).toBeNull();
    expect(again.labels).toEqual(["x", "y, z", 'q"uote', "w"]);
  });

  it("rolls back a transaction that throws", async () => {
    const before = await orm.em.fork().count(Thing);
    await expect(
      orm.em.fork().transactional(async (em) => {
        em.create(Thing, { name: "doomed", big: 1n, at: new Date(), active: true, data: { level: 1, tags: [] }, labels: [] });
        await em.flush();
        expect(await em.count(Thing, { name: "doomed" })).toBe(1); // visible inside
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const em = orm.em.fork();
    expect(await em.count(Thing)).toBe(before);
    expect(await em.findOne(Thing, { name: "doomed" })).toBeNull();
  });

  it("serialises two concurrent SELECT ... FOR UPDATE transactions without losing an update", async () => {
    const seed = orm.em.fork();
    seed.create(Counter, { id: "c1", value: 0 });
    await seed.flush();
    log.length = 0;

    const increment = () =>
      orm.em.fork().transactional(async (em) => {
        const counter = await em.findOneOrFail(Counter, { id: "c1" }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        await new Promise((resolve) => setTimeout(resolve, 50)); // give the other one a chance to interleave
        counter.value += 1;
      });
    await Promise.all([increment(), increment()]);
    const statements = log
      .map((line) => line.replace(/^\[query\]\s*/, ""))
      .filter((q) => /^(begin|commit|rollback|select|update)\b/.test(q));

    expect((await orm.em.fork().findOneOrFail(Counter, { id: "c1" })).value).toBe(2);
    expect(statements.filter((q) => / for update\b/.test(q))).toHaveLength(2);
    // begin, select ... for update, update, commit — twice, never interleaved.
    expect(statements.map((q) => q.split(" ")[0])).toEqual(["begin", "select", "update", "commit", "begin", "select", "update", "commit"]);
  });

  it("surfaces a unique violation as UniqueConstraintViolationException", async () => {
    const em = orm.em.fork();
    em.create(Thing, { name: "dup", big: 1n, at: new Date(), active: true, data: { level: 1, tags: [] }, labels: [] });
    await em.flush();
    const em2 = orm.em.fork();
    em2.create(Thing, { name: "dup", big: 2n, at: new Date(), active: true, data: { level: 1, tags: [] }, labels: [] });
    const error = await em2.flush().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UniqueConstraintViolationException);
    expect((error as UniqueConstraintViolationException & { code?: string }).code).toBe("23505");
  });

  it("executes raw SQL with results shaped and typed like node-postgres", async () => {
    const connection = orm.em.fork().getConnection();
    expect(await connection.execute("select 1 as x")).toEqual([{ x: 1 }]);

    const [row] = await connection.execute(
      `select 12::int8 as big, 1.50::numeric as num, '2024-01-02 03:04:05.678+00'::timestamptz as tstz,
              '2024-01-02'::date as d, '1 day'::interval as iv, array[null, 'a', 'NULL']::text[] as arr,
              array[1, null]::int8[] as bigs, '{"k": [1]}'::jsonb as j, true as b, '\\x0102'::bytea as bin`,
    );
    expect(row).toEqual({
      big: "12",
      num: "1.50",
      tstz: "2024-01-02 03:04:05.678+00",
      d: "2024-01-02",
      iv: "1 day",
      arr: [null, "a", "NULL"],
      bigs: ["1", null],
      j: { k: [1] },
      b: true,
      bin: Buffer.from([1, 2]),
    });

    const run = await connection.execute("update counters set value = value where id in ('c1', 'nope')", [], "run");
    expect(run).toMatchObject({ affectedRows: 1 });

    // Several statements in one call (simple protocol), as pg allows.
    const multi = await connection.execute("select 1 as a; update counters set value = value; select 2 as b", [], "run");
    expect(multi).toMatchObject([{ rows: [{ a: 1 }] }, { affectedRows: 1 }, { rows: [{ b: 2 }] }]);

    // knex with bound parameters (extended protocol): processResponse relies on command/rowCount.
    const knex = orm.em.fork().getKnex();
    expect(await knex("counters").where("id", "c1").update({ value: 7 })).toBe(1);
    expect(await knex("counters").where("id", "c1").first("value")).toEqual({ value: 7 });
    const raw = await knex.raw("select ?::int as n, ?::jsonb as j, ?::bool as b, ?::timestamptz as t", [
      5,
      JSON.stringify({ z: 1 }),
      true,
      new Date("2024-01-01T00:00:00Z"),
    ]);
    expect(raw.rows).toEqual([{ n: 5, j: { z: 1 }, b: true, t: "2024-01-01 00:00:00+00" }]);
  });

  it("derives pg command tags from SQL", () => {
    expect(statementCommands("select 1; /* x; */ insert into t values (';'); -- ;\n with a as (select 1) update t set x = 1")).toEqual([
      "SELECT",
      "INSERT",
      "UPDATE",
    ]);
    expect(statementCommands("create function f() returns int as $$ select 1; $$ language sql; values (1);")).toEqual([
      "CREATE",
      "SELECT",
    ]);
  });
});

describe("PgliteDriver lifecycle", { timeout: 30_000 }, () => {
  it("uses a caller-provided PGlite and leaves it open on orm.close()", async () => {
    const pglite = new PGlite();
    try {
      const orm = await MikroORM.init<PgliteDriver>(ormOptions({ pglite }));
      expect(await orm.em.getDriver().getPglite()).toBe(pglite);
      await orm.getMigrator().up();
      await pglite.query(`insert into counters (id, value) values ('outside', 41)`);
      const counter = await orm.em.fork().findOneOrFail(Counter, { id: "outside" });
      expect(counter.value).toBe(41);
      await expect(orm.close()).resolves.toBeUndefined();
      expect(pglite.closed).toBe(false);
      expect((await pglite.query<{ value: number }>(`select value from counters`)).rows).toEqual([{ value: 41 }]);
    } finally {
      await pglite.close();
    }
  });

  it("creates a PGlite in dataDir with extensions, closes it on orm.close(), and reopens the data", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "pglite-driver-"));
    try {
      const orm = await MikroORM.init<PgliteDriver>(ormOptions({ dataDir, extensions: ["pg_trgm"] }));
      await orm.getMigrator().up();
      const connection = orm.em.fork().getConnection();
      await connection.execute("create extension if not exists pg_trgm");
      expect(await connection.execute("select similarity('hello', 'hallo') > 0.2 as close")).toEqual([{ close: true }]);
      const em = orm.em.fork();
      em.create(Counter, { id: "persisted", value: 3 });
      await em.flush();
      const pglite = await orm.em.getDriver().getPglite();
      await expect(orm.close()).resolves.toBeUndefined();
      expect(pglite.closed).toBe(true);

      const reopened = await MikroORM.init<PgliteDriver>(ormOptions({ dataDir, extensions: ["pg_trgm"] }));
      try {
        expect(await reopened.getMigrator().getPendingMigrations()).toEqual([]);
        expect((await reopened.em.fork().findOneOrFail(Counter, { id: "persisted" })).value).toBe(3);
      } finally {
        await reopened.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
