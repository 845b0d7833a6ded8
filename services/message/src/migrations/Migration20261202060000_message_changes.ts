import { Migration } from "@mikro-orm/migrations";

/**
 * The message lane of a room's stream: each message carries the position of its latest change
 * (created, edited, deleted), taken from room_heads.last_change in the change's own transaction.
 * Existing messages get their seq (their creation; edits made before this migration are already
 * in the copies clients hold, or in the history they load), and each head continues from its seq.
 */
export class Migration20261202060000_message_changes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "messages" add column "change" bigint null;`);
    this.addSql(`update "messages" set "change" = "seq";`);
    this.addSql(`alter table "messages" alter column "change" set not null;`);
    // Resume and fill read (room_id, change > p) in order: a range scan of this index.
    this.addSql(`alter table "messages" add constraint "messages_room_id_change_unique" unique ("room_id", "change");`);
    this.addSql(`alter table "room_heads" add column "last_change" bigint null;`);
    this.addSql(`update "room_heads" set "last_change" = "last_seq";`);
    this.addSql(`alter table "room_heads" alter column "last_change" set not null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "room_heads" drop column "last_change";`);
    this.addSql(`alter table "messages" drop constraint "messages_room_id_change_unique";`);
    this.addSql(`alter table "messages" drop column "change";`);
  }
}
