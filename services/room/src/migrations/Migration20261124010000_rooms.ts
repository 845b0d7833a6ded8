import { Migration } from "@mikro-orm/migrations";

export class Migration20261124010000_rooms extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "rooms" (
      "id" uuid not null,
      "kind" text check ("kind" in ('public', 'private', 'direct')) not null,
      "name" varchar(80) not null default '',
      "topic" varchar(500) not null default '',
      "creator_id" uuid not null,
      "created_at" timestamptz not null,
      "archived" boolean not null default false,
      "direct_key" varchar(73) null,
      constraint "rooms_pkey" primary key ("id")
    );`);
    // One direct room per pair of people: the arbiter of OpenDirectRoom's insert ... on conflict.
    this.addSql(`alter table "rooms" add constraint "rooms_direct_key_unique" unique ("direct_key");`);
    // The public directory, in name order, without archived rooms.
    this.addSql(
      `create index "rooms_public_directory_index" on "rooms" (lower("name"), "id") where "kind" = 'public' and not "archived";`,
    );
    this.addSql(`create table "memberships" (
      "room_id" uuid not null,
      "user_id" uuid not null,
      "role" text check ("role" in ('owner', 'admin', 'member')) not null,
      "joined_at" timestamptz not null,
      "last_read_seq" bigint not null default 0,
      constraint "memberships_pkey" primary key ("room_id", "user_id")
    );`);
    this.addSql(`create index "memberships_user_id_index" on "memberships" ("user_id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "memberships";`);
    this.addSql(`drop table if exists "rooms";`);
  }
}
