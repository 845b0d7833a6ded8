import { Migration } from "@mikro-orm/migrations";

export class Migration20261124000000_users extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create extension if not exists pg_trgm;`);
    this.addSql(`create table "users" (
      "id" uuid not null primary key,
      "username" varchar(32) not null,
      "display_name" varchar(64) not null,
      "email" varchar(254) not null,
      "avatar_url" varchar(2048) not null default '',
      "status_text" varchar(140) not null default '',
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null
    );`);
    this.addSql(`create unique index "users_username_lower_unique" on "users" (lower("username"));`);
    this.addSql(`create unique index "users_email_lower_unique" on "users" (lower("email"));`);
    // Search: prefix matches use the lower(...) btree indexes with text_pattern_ops,
    // substring matches the trigram indexes.
    this.addSql(`create index "users_username_prefix" on "users" (lower("username") text_pattern_ops);`);
    this.addSql(`create index "users_display_name_prefix" on "users" (lower("display_name") text_pattern_ops);`);
    this.addSql(`create index "users_username_trgm" on "users" using gin (lower("username") gin_trgm_ops);`);
    this.addSql(`create index "users_display_name_trgm" on "users" using gin (lower("display_name") gin_trgm_ops);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "users";`);
  }
}
