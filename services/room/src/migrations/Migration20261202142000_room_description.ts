import { Migration } from "@mikro-orm/migrations";

/** Issue 16: a room's description (rooms.description, 0-1,000 characters; empty: none). */
export class Migration20261202142000_room_description extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "rooms" add column "description" text not null default '';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "rooms" drop column "description";`);
  }
}
