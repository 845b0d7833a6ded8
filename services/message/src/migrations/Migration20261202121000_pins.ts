import { Migration } from "@mikro-orm/migrations";

/**
 * Issue 16: pins. A pinned message carries when and by whom (pinned_at, pinned_by_id); pinning and
 * unpinning take the message's next stream position like an edit. ListPins walks the partial index
 * (room_id, pinned_at desc, id) of pinned messages, newest pin first.
 */
export class Migration20261202121000_pins extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "messages" add column "pinned_at" timestamptz null, add column "pinned_by_id" uuid null;`);
    this.addSql(
      `create index "messages_room_id_pinned_at_index" on "messages" ("room_id", "pinned_at" desc, "id" desc) where "pinned_at" is not null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "messages_room_id_pinned_at_index";`);
    this.addSql(`alter table "messages" drop column "pinned_at", drop column "pinned_by_id";`);
  }
}
