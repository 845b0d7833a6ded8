import { Migration } from "@mikro-orm/migrations";

/** Issue 16: who may use @room / @here (rooms.members_can_mention_everyone; true: every member, false: admins and the owner). */
export class Migration20261202141500_mention_policy extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "rooms" add column "members_can_mention_everyone" boolean not null default true;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "rooms" drop column "members_can_mention_everyone";`);
  }
}
