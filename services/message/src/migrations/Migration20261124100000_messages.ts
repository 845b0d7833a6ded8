import { Migration } from "@mikro-orm/migrations";

export class Migration20261124100000_messages extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "messages" (
      "id" uuid not null primary key,
      "room_id" uuid not null,
      "seq" bigint not null,
      "sender_id" uuid not null,
      "body" text not null,
      "client_msg_id" varchar(64) not null,
      "reply_to_id" uuid null,
      "created_at" timestamptz not null,
      "edited_at" timestamptz null,
      "deleted_at" timestamptz null
    );`);
    this.addSql(`alter table "messages" add constraint "messages_room_id_seq_unique" unique ("room_id", "seq");`);
    this.addSql(
      `alter table "messages" add constraint "messages_sender_id_client_msg_id_unique" unique ("sender_id", "client_msg_id");`,
    );
    this.addSql(`create table "message_versions" (
      "message_id" uuid not null,
      "version" int not null,
      "body" text not null,
      "created_at" timestamptz not null,
      constraint "message_versions_pkey" primary key ("message_id", "version")
    );`);
    this.addSql(`create table "room_heads" (
      "room_id" uuid not null primary key,
      "last_seq" bigint not null,
      "last_activity_at" timestamptz not null
    );`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "room_heads";`);
    this.addSql(`drop table if exists "message_versions";`);
    this.addSql(`drop table if exists "messages";`);
  }
}
