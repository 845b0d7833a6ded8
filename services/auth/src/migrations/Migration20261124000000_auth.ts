import { Migration } from "@mikro-orm/migrations";

export class Migration20261124000000_auth extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "credentials" (
      "user_id" uuid not null primary key,
      "password_hash" text not null,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null
    );`);
    this.addSql(`create table "sessions" (
      "id" uuid not null primary key,
      "user_id" uuid not null,
      "user_agent" varchar(512) not null default '',
      "client_address" varchar(64) not null default '',
      "created_at" timestamptz not null,
      "last_used_at" timestamptz not null,
      "expires_at" timestamptz not null,
      "revoked_at" timestamptz null,
      "revoked_reason" varchar(32) null
    );`);
    this.addSql(`create index "sessions_user_id_index" on "sessions" ("user_id");`);
    this.addSql(`create table "refresh_tokens" (
      "token_hash" varchar(64) not null primary key,
      "session_id" uuid not null,
      "created_at" timestamptz not null,
      "rotated_at" timestamptz null
    );`);
    this.addSql(`create index "refresh_tokens_session_id_index" on "refresh_tokens" ("session_id");`);
    this.addSql(`create table "signing_keys" (
      "kid" varchar(64) not null primary key,
      "private_jwk" jsonb not null,
      "public_jwk" jsonb not null,
      "created_at" timestamptz not null,
      "retired_at" timestamptz null
    );`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "refresh_tokens";`);
    this.addSql(`drop table if exists "sessions";`);
    this.addSql(`drop table if exists "credentials";`);
    this.addSql(`drop table if exists "signing_keys";`);
  }
}
