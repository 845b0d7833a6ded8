import { Migration } from "@mikro-orm/migrations";

/** Issue 16: a room's pin policy (rooms.members_can_pin; false: admins and the owner pin). */
export class Migration20261202121500_pin_policy extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "rooms" add column "members_can_pin" boolean not null default false;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "rooms" drop column "members_can_pin";`);
  }
}
