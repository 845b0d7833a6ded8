// openDatabase on a PostgreSQL server: the databases Parley creates are UTF8 whatever the server's default
// (an initdb without a UTF-8 locale makes SQL_ASCII, where varchar(n) counts bytes), and an existing
// database in another encoding is refused at start with the statement that makes a right one.
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { DatabaseEncodingError, openDatabase, serviceDatabaseUrl } from "../src/db.js";
import { createLogger } from "../src/logger.js";
import { TEST_DATABASE_URL, testDatabase } from "../src/testing.js";

const log = createLogger("test", "silent");

async function onServer<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new URL(TEST_DATABASE_URL!);
  admin.pathname = "/postgres";
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

describe.skipIf(!TEST_DATABASE_URL)("a service's PostgreSQL database", { timeout: 60_000 }, () => {
  const db = testDatabase();
  afterAll(() => db.drop());

  it("is created UTF8, from template0, and takes 60 emoji in a varchar(80)", async () => {
    const orm = await openDatabase({ service: "kit_utf8", databaseUrl: db.databaseUrl, entities: [], migrations: [], log });
    try {
      const name = decodeURIComponent(serviceDatabaseUrl(db.databaseUrl!, "kit_utf8").pathname.slice(1));
      const encoding = await onServer(async (client) => {
        const { rows } = await client.query<{ encoding: string }>(
          "select pg_encoding_to_char(encoding) as encoding from pg_database where datname = $1",
          [name],
        );
        return rows[0]?.encoding;
      });
      expect(encoding).toBe("UTF8");
      const em = orm.em.fork();
      await em.execute(`create table names (name varchar(80) not null)`);
      await em.execute(`insert into names values (?)`, ["😀".repeat(60)]);
      const [row] = await em.execute<{ length: number }[]>(`select char_length(name) as length from names`);
      expect(Number(row!.length)).toBe(60);
    } finally {
      await orm.close(true);
    }
  });

  it("refuses to start on an existing database that is not UTF8, and says how to make one", async () => {
    const name = decodeURIComponent(serviceDatabaseUrl(db.databaseUrl!, "kit_ascii").pathname.slice(1));
    await onServer((client) =>
      client.query(`create database "${name}" encoding 'SQL_ASCII' lc_collate 'C' lc_ctype 'C' template template0`),
    );
    const opened = openDatabase({ service: "kit_ascii", databaseUrl: db.databaseUrl, entities: [], migrations: [], log });
    await expect(opened).rejects.toBeInstanceOf(DatabaseEncodingError);
    await expect(opened).rejects.toThrow(/encoding SQL_ASCII; Parley needs UTF8.*encoding 'UTF8' template template0/);
  });
});
