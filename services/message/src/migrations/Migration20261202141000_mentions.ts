import { Migration } from "@mikro-orm/migrations";

/**
 * Issue 16: mentions. A message carries whom it mentions by @username (mention_user_ids, as on the
 * wire) and whether it is @room / @here (mention_broadcast: 0 none, 1 room, 2 here); message_mentions
 * has one row per (message, mentioned member) with the message's room and seq, so a member's unread
 * mentions in a room are a range scan of (user_id, room_id, seq) from their read marker, and a
 * room's broadcasts a scan of the partial index on (room_id, seq).
 */
export class Migration20261202141000_mentions extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "messages" add column "mention_user_ids" jsonb not null default '[]', add column "mention_broadcast" smallint not null default 0;`,
    );
    this.addSql(`create index "messages_room_id_seq_broadcast_index" on "messages" ("room_id", "seq") where "mention_broadcast" > 0;`);
    this.addSql(`create table "message_mentions" (
      "message_id" uuid not null,
      "user_id" uuid not null,
      "room_id" uuid not null,
      "seq" bigint not null,
      constraint "message_mentions_pkey" primary key ("message_id", "user_id")
    );`);
    this.addSql(`create index "message_mentions_user_id_room_id_seq_index" on "message_mentions" ("user_id", "room_id", "seq");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "message_mentions";`);
    this.addSql(`drop index if exists "messages_room_id_seq_broadcast_index";`);
    this.addSql(`alter table "messages" drop column "mention_user_ids", drop column "mention_broadcast";`);
  }
}
