// dataAccess: a service's repositories over one fork per unit of work.
import { defineEntity, type InferEntity } from "@mikro-orm/core";
import { Migration } from "@mikro-orm/migrations";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataAccess, EntityRepository, openDatabase, type DataAccess } from "../src/db.js";
import { createLogger } from "../src/logger.js";

const Note = defineEntity({
  name: "Note",
  tableName: "notes",
  properties: (p) => ({ id: p.text().primary(), body: p.text() }),
});
type Note = InferEntity<typeof Note>;

class Migration20260101000000_notes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "notes" ("id" text not null, "body" text not null, constraint "notes_pkey" primary key ("id"));`);
  }
}

class NoteRepository extends EntityRepository<Note> {
  async bodies(): Promise<string[]> {
    const rows = await this.em.execute<{ body: string }[]>(`select body from notes order by id`);
    return rows.map((row) => row.body);
  }
}

describe("dataAccess", { timeout: 30_000 }, () => {
  let db: DataAccess<{ notes: NoteRepository }>;

  beforeAll(async () => {
    const orm = await openDatabase({
      service: "kit_data",
      entities: [Note],
      migrations: [{ name: "Migration20260101000000_notes", class: Migration20260101000000_notes }],
      log: createLogger("test", "silent"),
    });
    db = dataAccess(orm, (em) => ({ notes: new NoteRepository(em, Note) }));
  }, 60_000);

  afterAll(async () => {
    await db?.orm.close();
  });

  it("builds the repositories over one new fork per unit, never over the root EntityManager", async () => {
    const first = db.fork();
    const second = db.fork();
    expect(first.notes.getEntityManager()).toBe(first.em);
    expect(first.em).not.toBe(second.em);
    expect(first.em).not.toBe(db.em);
    first.notes.create({ id: "a", body: "one" });
    await first.em.flush();
    // The other unit has its own identity map: it reads the row, not the first unit's entity.
    const read = await second.notes.findOneOrFail({ id: "a" });
    expect(read.body).toBe("one");
    expect(read).not.toBe(await first.notes.findOneOrFail({ id: "a" }));
  });

  it("commits a transactional unit when its work returns, and its raw SQL sees the transaction", async () => {
    const seen = await db.transactional(async ({ em, notes }) => {
      expect(em.isInTransaction()).toBe(true);
      notes.create({ id: "b", body: "two" });
      await em.flush();
      const bodies = await notes.bodies();
      notes.create({ id: "c", body: "three" }); // flushed by the commit
      return bodies;
    });
    expect(seen).toEqual(["one", "two"]);
    expect(await db.fork().notes.bodies()).toEqual(["one", "two", "three"]);
  });

  it("rolls a transactional unit back when its work throws", async () => {
    await expect(
      db.transactional(async ({ em, notes }) => {
        notes.create({ id: "d", body: "doomed" });
        await em.flush();
        expect(await notes.bodies()).toContain("doomed");
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await db.fork().notes.bodies()).toEqual(["one", "two", "three"]);
  });
});
