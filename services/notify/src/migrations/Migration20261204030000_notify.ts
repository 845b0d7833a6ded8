import { Migration } from "@mikro-orm/migrations";

export class Migration20261204030000_notify extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "preferences" (
      "user_id" uuid not null,
      "default_level" smallint not null default 2,
      "desktop" boolean not null default true,
      "push" boolean not null default true,
      "email" boolean not null default true,
      "email_delay_seconds" int not null default 900,
      "hide_previews" boolean not null default false,
      "sound" boolean not null default true,
      "dnd_enabled" boolean not null default false,
      "dnd_start_minute" smallint not null default 0,
      "dnd_end_minute" smallint not null default 0,
      "dnd_time_zone" varchar(64) not null default 'UTC',
      "paused_until" timestamptz null,
      "updated_at" timestamptz not null,
      constraint "preferences_pkey" primary key ("user_id")
    );`);
    this.addSql(`create table "room_preferences" (
      "user_id" uuid not null,
      "room_id" uuid not null,
      "level" smallint not null default 0,
      "muted_until" timestamptz null,
      constraint "room_preferences_pkey" primary key ("user_id", "room_id")
    );`);
    // The worker asks "who set this room to ALL?" for every message of a room.
    this.addSql(`create index "room_preferences_room_id_level_index" on "room_preferences" ("room_id") where "level" = 1;`);
    this.addSql(`create table "thread_preferences" (
      "user_id" uuid not null,
      "thread_root_id" uuid not null,
      "room_id" uuid not null,
      "muted_until" timestamptz null,
      constraint "thread_preferences_pkey" primary key ("user_id", "thread_root_id")
    );`);
    this.addSql(`create table "vapid_keys" (
      "id" uuid not null,
      "public_key" varchar(100) not null,
      "private_key" varchar(100) not null,
      "created_at" timestamptz not null,
      "retired_at" timestamptz null,
      constraint "vapid_keys_pkey" primary key ("id")
    );`);
    this.addSql(`alter table "vapid_keys" add constraint "vapid_keys_public_key_unique" unique ("public_key");`);
    // At most one current key.
    this.addSql(`create unique index "vapid_keys_current_index" on "vapid_keys" ((true)) where "retired_at" is null;`);
    this.addSql(`create table "push_subscriptions" (
      "id" uuid not null,
      "user_id" uuid not null,
      "endpoint" text not null,
      "p256dh" varchar(100) not null,
      "auth" varchar(40) not null,
      "vapid_key_id" uuid not null references "vapid_keys" ("id"),
      "device_label" varchar(100) not null default '',
      "created_at" timestamptz not null,
      "last_success_at" timestamptz null,
      constraint "push_subscriptions_pkey" primary key ("id")
    );`);
    this.addSql(`alter table "push_subscriptions" add constraint "push_subscriptions_endpoint_unique" unique ("endpoint");`);
    this.addSql(`create index "push_subscriptions_user_id_index" on "push_subscriptions" ("user_id");`);
    this.addSql(`create index "push_subscriptions_vapid_key_id_index" on "push_subscriptions" ("vapid_key_id");`);
    this.addSql(`create table "settings" (
      "name" varchar(64) not null,
      "value" text not null,
      constraint "settings_pkey" primary key ("name")
    );`);
    this.addSql(`create table "room_cursors" (
      "room_id" uuid not null,
      "last_seq" bigint not null default 0,
      "updated_at" timestamptz not null,
      constraint "room_cursors_pkey" primary key ("room_id")
    );`);
    this.addSql(`create table "deliveries" (
      "user_id" uuid not null,
      "message_id" uuid not null,
      "channel" smallint not null,
      "room_id" uuid not null,
      "seq" bigint not null,
      "thread_root_id" uuid null,
      "reason" smallint not null,
      "state" text check ("state" in ('pending', 'sending', 'sent', 'skipped')) not null default 'pending',
      "due_at" timestamptz not null,
      "lease_until" timestamptz null,
      "attempts" int not null default 0,
      "sent_at" timestamptz null,
      "batch_id" uuid null,
      "note" varchar(200) not null default '',
      "created_at" timestamptz not null,
      constraint "deliveries_pkey" primary key ("user_id", "message_id", "channel")
    );`);
    // The dispatchers' question: what is due on this channel (pending past due_at, or a lease that expired).
    this.addSql(`create index "deliveries_due_index" on "deliveries" ("channel", "due_at") where "state" in ('pending', 'sending');`);
  }

  override async down(): Promise<void> {
    for (const table of ["deliveries", "room_cursors", "settings", "push_subscriptions", "vapid_keys", "thread_preferences", "room_preferences", "preferences"]) {
      this.addSql(`drop table if exists "${table}";`);
    }
  }
}
