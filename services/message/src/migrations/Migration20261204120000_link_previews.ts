import { Migration } from "@mikro-orm/migrations";

/**
 * Issue 19: link previews (services/message/src/previews, docs/files.md "Link previews").
 * - message_link_previews: the previews a message shows, by position (the order of its links);
 * - link_preview_jobs: messages waiting for their previews, written in the send's (or edit's)
 *   transaction so that a crash between the commit and the fetch leaves the request behind for the
 *   sweep; wanted_at for the sweep's order, claimed_until to keep two workers off one message;
 * - removed_link_previews: URLs a sender took off a message (they stay off after an edit);
 * - link_preview_cache: per URL, what its page gave (preview null: nothing) until expires_at;
 * - link_images: the re-hosted images (used_at: when a preview last took one; the sweep removes
 *   those no message shows after twice the cache time) (FileStorage key "link-images/<id>"); their ids are an HMAC
 *   of the image URL under the "link-image" key of service_secrets (Migration20261204180000_files).
 */
export class Migration20261204120000_link_previews extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "message_link_previews" ("message_id" uuid not null, "position" smallint not null, "url" text not null, "title" text not null, "description" text not null, "site_name" text not null, "image_id" varchar(64) null, "image_width" int not null default 0, "image_height" int not null default 0, constraint "message_link_previews_pkey" primary key ("message_id", "position"));`);
    this.addSql(`create index "message_link_previews_image_id_index" on "message_link_previews" ("image_id") where "image_id" is not null;`);
    this.addSql(`create table "link_preview_jobs" ("message_id" uuid not null, "wanted_at" timestamptz not null, "claimed_until" timestamptz null, constraint "link_preview_jobs_pkey" primary key ("message_id"));`);
    this.addSql(`create index "link_preview_jobs_wanted_at_index" on "link_preview_jobs" ("wanted_at");`);
    this.addSql(`create table "removed_link_previews" ("message_id" uuid not null, "url" text not null, "removed_at" timestamptz not null, constraint "removed_link_previews_pkey" primary key ("message_id", "url"));`);
    this.addSql(`create table "link_preview_cache" ("url" text not null, "preview" jsonb null, "failure" text null, "fetched_at" timestamptz not null, "expires_at" timestamptz not null, constraint "link_preview_cache_pkey" primary key ("url"));`);
    this.addSql(`create index "link_preview_cache_expires_at_index" on "link_preview_cache" ("expires_at");`);
    this.addSql(`create table "link_images" ("id" varchar(64) not null, "source_url" text not null, "media_type" varchar(100) not null, "size" bigint not null, "width" int not null, "height" int not null, "etag" varchar(64) not null, "created_at" timestamptz not null, "used_at" timestamptz not null, constraint "link_images_pkey" primary key ("id"));`);
    this.addSql(`create index "link_images_used_at_index" on "link_images" ("used_at");`);
  }

  override async down(): Promise<void> {
    for (const table of ["link_images", "link_preview_cache", "removed_link_previews", "link_preview_jobs", "message_link_previews"]) {
      this.addSql(`drop table if exists "${table}";`);
    }
  }
}
