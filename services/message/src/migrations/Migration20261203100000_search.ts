import { Migration } from "@mikro-orm/migrations";

/**
 * Issue 17: message search (docs/search.md). Kept by PostgreSQL itself, so every writer (sends,
 * edits, deletes, seeders) keeps it right with no code:
 * - search_vector: the body's English full-text vector (stemmed), a stored generated column; a
 *   deleted message's body is empty, so is its vector.
 * - has_link: whether the body has a link (http://, https:// or www.), a stored generated column.
 * Indexes (docs/search.md, "Indexes"):
 * - messages_search_vector_index: gin (search_vector), for words (stems and prefixes);
 * - messages_body_trgm_index: gin (body gin_trgm_ops), for substrings (partial words, CJK,
 *   phrases) with ILIKE;
 * - messages_room_id_created_at_link_index: btree (room_id, created_at desc, id desc) of the
 *   messages with a link.
 * - messages_room_id_created_at_index: btree (room_id, created_at desc, id desc), for dates
 *   (before:/after:/on:) and newest-first reads of the rooms: without it a date alone rechecked
 *   every message of the rooms searched (124 ms at 50,000 of them, bench/RESULTS.md "search").
 * The rooms come from the (room_id, seq) btree: the planner takes that bitmap, a term's GIN bitmap
 * (ANDed), or both. GIN indexes keyed by room first (btree_gin's (room_id, search_vector)) were
 * measured slower: a GIN scan reads every posting of each room key (all the rooms' messages) to
 * intersect them with the term's, 114 ms for a rare word in 50 rooms of 200,000 messages, against
 * 12 ms for the term's own postings filtered by room.
 * The text search configuration is `english`, fixed here (the column and the queries must agree).
 */
export class Migration20261203100000_search extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create extension if not exists pg_trgm;`);
    this.addSql(`alter table "messages"
      add column "search_vector" tsvector generated always as (to_tsvector('english'::regconfig, "body")) stored,
      add column "has_link" boolean generated always as ("body" ~* '(https?://|www\\.)[^[:space:]]') stored;`);
    this.addSql(`create index "messages_search_vector_index" on "messages" using gin ("search_vector");`);
    this.addSql(`create index "messages_body_trgm_index" on "messages" using gin ("body" gin_trgm_ops);`);
    this.addSql(`create index "messages_room_id_created_at_link_index" on "messages" ("room_id", "created_at" desc, "id" desc) where "has_link";`);
    this.addSql(`create index "messages_room_id_created_at_index" on "messages" ("room_id", "created_at" desc, "id" desc);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "messages_room_id_created_at_index";`);
    this.addSql(`drop index if exists "messages_room_id_created_at_link_index";`);
    this.addSql(`drop index if exists "messages_body_trgm_index";`);
    this.addSql(`drop index if exists "messages_search_vector_index";`);
    this.addSql(`alter table "messages" drop column if exists "has_link", drop column if exists "search_vector";`);
  }
}
