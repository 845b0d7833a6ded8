import { Migration } from "@mikro-orm/migrations";

/**
 * Issue 19: files. One row per uploaded file (its bytes are in the FileStorage), attached to a
 * message in the send's transaction; service_secrets keeps the key that signs download URLs.
 */
export class Migration20261204180000_files extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "files" (
      "id" uuid not null primary key,
      "room_id" uuid not null,
      "uploader_id" uuid not null,
      "message_id" uuid null,
      "position" smallint not null default 0,
      "name" text not null,
      "size" bigint not null,
      "media_type" text not null,
      "display" smallint not null,
      "width" int not null default 0,
      "height" int not null default 0,
      "animated" boolean not null default false,
      "has_thumbnail" boolean not null default false,
      "thumbnail_width" int not null default 0,
      "thumbnail_height" int not null default 0,
      "thumbnail_size" bigint not null default 0,
      "thumbnail_sha256" text not null default '',
      "sha256" text not null,
      "created_at" timestamptz not null,
      "attached_at" timestamptz null,
      "deleted_at" timestamptz null,
      "purge_after" timestamptz null
    );`);
    // A message's attachments, in order (every page of history reads them).
    this.addSql(`create index "files_message_id_index" on "files" ("message_id", "position") where "message_id" is not null;`);
    // ListRoomFiles: a room's attached, readable files, newest first.
    this.addSql(
      `create index "files_room_id_created_at_index" on "files" ("room_id", "created_at" desc, "id" desc) where "message_id" is not null and "deleted_at" is null;`,
    );
    // The quota: a user's bytes.
    this.addSql(`create index "files_uploader_id_index" on "files" ("uploader_id");`);
    // The sweeper: files due for removal, and uploads no message took.
    this.addSql(`create index "files_purge_after_index" on "files" ("purge_after") where "purge_after" is not null;`);
    this.addSql(`create index "files_unattached_created_at_index" on "files" ("created_at") where "message_id" is null;`);
    this.addSql(`create table "service_secrets" ("name" varchar(64) not null primary key, "value" text not null);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "service_secrets";`);
    this.addSql(`drop table if exists "files";`);
  }
}
