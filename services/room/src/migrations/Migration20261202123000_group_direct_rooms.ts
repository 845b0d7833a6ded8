import { Migration } from "@mikro-orm/migrations";

/**
 * Group direct conversations (3 to 8 people): rooms.direct_members lists a direct room's people,
 * ascending, colon-separated. A 1:1 room keeps its key "<id>:<id>"; a group's key is "g:" and the
 * SHA-256 of its sorted members, which stays within the key's 73 characters and unique per set.
 * Existing 1:1 rooms get their members from their key.
 */
export class Migration20261202123000_group_direct_rooms extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "rooms" add column "direct_members" text null;`);
    this.addSql(`update "rooms" set "direct_members" = "direct_key" where "kind" = 'direct' and "direct_key" is not null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "rooms" drop column "direct_members";`);
  }
}
