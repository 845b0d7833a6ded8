import { Migration } from "@mikro-orm/migrations";

/**
 * The room lane of each room's stream (issue 15): rooms.last_change is the room's newest position,
 * taken with `update rooms set last_change = last_change + 1 ... returning` in the transaction of
 * each change, and room_changes holds every change at its position.
 *
 * Rooms that exist before this migration start at last_change 0 with no history: their earlier
 * joins, leaves and updates were never recorded as changes, and there is nothing to replay them
 * from (a client loads such a room afresh, as it always has, and resumes from 0 or later).
 */
export class Migration20261202050000_room_changes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "rooms" add column "last_change" bigint not null default 0;`);
    this.addSql(`create table "room_changes" (
      "room_id" uuid not null,
      "change" bigint not null,
      "by_user_id" uuid not null,
      "created_at" timestamptz not null,
      "payload" bytea not null,
      constraint "room_changes_pkey" primary key ("room_id", "change")
    );`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "room_changes";`);
    this.addSql(`alter table "rooms" drop column "last_change";`);
  }
}
