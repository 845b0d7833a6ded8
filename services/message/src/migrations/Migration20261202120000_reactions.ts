import { Migration } from "@mikro-orm/migrations";

/**
 * Reactions: one row per (message, user, emoji), so the same emoji from the same person counts
 * once and a repeated add is a no-op. Each add or remove bumps the message's change (the room
 * stream position) in its own transaction, so reactions reach every client live and on resume.
 */
export class Migration20261202120000_reactions extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "message_reactions" (
      "message_id" uuid not null,
      "user_id" uuid not null,
      "emoji" varchar(64) not null,
      "created_at" timestamptz not null,
      constraint "message_reactions_pkey" primary key ("message_id", "emoji", "user_id")
    );`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "message_reactions";`);
  }
}
