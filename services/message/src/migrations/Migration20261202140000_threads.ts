import { Migration } from "@mikro-orm/migrations";

/**
 * Issue 16: threads. A reply is a message of the room with thread_root_id (and also_sent_to_room
 * when the room's timeline shows it too); the root carries its thread's summary (reply_count,
 * last_reply_at, last_reply_seq, participant ids), changed in the reply's transaction. Thread
 * replies are paged by (thread_root_id, seq). thread_follows holds who follows which thread and how
 * far they have read it.
 */
export class Migration20261202140000_threads extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "messages"
      add column "thread_root_id" uuid null,
      add column "also_sent_to_room" boolean not null default false,
      add column "reply_count" int not null default 0,
      add column "last_reply_at" timestamptz null,
      add column "last_reply_seq" bigint not null default 0,
      add column "thread_participant_ids" uuid[] not null default '{}';`);
    this.addSql(
      `create index "messages_thread_root_id_seq_index" on "messages" ("thread_root_id", "seq") where "thread_root_id" is not null;`,
    );
    this.addSql(`create table "thread_follows" (
      "user_id" uuid not null,
      "root_id" uuid not null,
      "room_id" uuid not null,
      "following" boolean not null,
      "last_read_seq" bigint not null,
      "updated_at" timestamptz not null,
      constraint "thread_follows_pkey" primary key ("user_id", "root_id"));`);
    this.addSql(`create index "thread_follows_user_id_room_id_index" on "thread_follows" ("user_id", "room_id") where "following";`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "thread_follows";`);
    this.addSql(`drop index if exists "messages_thread_root_id_seq_index";`);
    this.addSql(`alter table "messages" drop column "thread_root_id", drop column "also_sent_to_room", drop column "reply_count",
      drop column "last_reply_at", drop column "last_reply_seq", drop column "thread_participant_ids";`);
  }
}
