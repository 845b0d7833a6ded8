// The rows of files (issue 19): inserted once the bytes are stored, attached in the send's
// transaction, made unreadable at once when their message is deleted, removed by the sweeper.
import { EntityRepository } from "@parley/kit";
import { ServiceSecret, StoredFile } from "../entities.js";

const COLUMN_NAMES =
  "id, room_id, uploader_id, message_id, position, name, size, media_type, display, width, height, animated, has_thumbnail, thumbnail_width, thumbnail_height, thumbnail_size, thumbnail_sha256, sha256, created_at, attached_at, deleted_at, purge_after".split(
    ", ",
  );
const FILE_COLUMNS = COLUMN_NAMES.join(", ");
const F_COLUMNS = COLUMN_NAMES.map((c) => `files.${c}`).join(", ");

/**
 * Takes the caller's unattached uploads to this room for a message, in the order given; returns
 * the rows it took (fewer than asked when some id is not such an upload: the caller rolls back).
 */
const ATTACH_SQL = `
update files set message_id = ?::uuid, position = ids.ord - 1, attached_at = ?::timestamptz
from jsonb_array_elements_text(?::jsonb) with ordinality as ids(id, ord)
where files.id = ids.id::uuid and files.uploader_id = ?::uuid and files.room_id = ?::uuid
  and files.message_id is null and files.deleted_at is null
returning ${F_COLUMNS}`;

const OF_MESSAGES_SQL = `select ${FILE_COLUMNS} from files
where message_id in (select value::uuid from jsonb_array_elements_text(?::jsonb)) and deleted_at is null
order by message_id, position`;

const ROOM_FILES_SQL = `select ${FILE_COLUMNS} from files
where room_id = ?::uuid and message_id is not null and deleted_at is null and (not ?::boolean or display = 1)
  and (?::timestamptz is null or (created_at, id) < (?::timestamptz, ?::uuid))
order by created_at desc, id desc limit ?`;

export type NewFile = Omit<StoredFile, "messageId" | "position" | "attachedAt" | "deletedAt" | "purgeAfter">;

export class FileRepository extends EntityRepository<StoredFile> {
  async store(file: NewFile): Promise<StoredFile> {
    const row = this.em.create(StoredFile, { ...file, messageId: null, position: 0, attachedAt: null, deletedAt: null, purgeAfter: null });
    await this.em.flush();
    return row;
  }

  /** A file that is readable (not deleted), or null. */
  findReadable(id: string): Promise<StoredFile | null> {
    return this.em.findOne(StoredFile, { id, deletedAt: null });
  }

  findReadableMany(ids: readonly string[]): Promise<StoredFile[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.em.find(StoredFile, { id: { $in: [...ids] }, deletedAt: null });
  }

  /** In the send's transaction: see ATTACH_SQL. */
  async attach(messageId: string, fileIds: readonly string[], uploaderId: string, roomId: string, now: Date): Promise<StoredFile[]> {
    const rows = await this.em.execute<Record<string, unknown>[]>(ATTACH_SQL, [messageId, now, JSON.stringify(fileIds), uploaderId, roomId]);
    const byId = new Map(rows.map((row) => [String(row.id), this.em.map(StoredFile, row)]));
    return fileIds.flatMap((id) => byId.get(id) ?? []);
  }

  /** The readable attachments of each message, by message id, in their order. */
  async ofMessages(messageIds: readonly string[]): Promise<Map<string, StoredFile[]>> {
    const byMessage = new Map<string, StoredFile[]>();
    if (messageIds.length === 0) return byMessage;
    const rows = await this.em.execute<Record<string, unknown>[]>(OF_MESSAGES_SQL, [JSON.stringify(messageIds)]);
    for (const row of rows) {
      const file = this.em.map(StoredFile, row);
      const list = byMessage.get(file.messageId!) ?? [];
      list.push(file);
      byMessage.set(file.messageId!, list);
    }
    return byMessage;
  }

  /** In the delete's transaction: the message's files become unreadable now, their bytes go at `purgeAfter`. */
  async releaseOfMessage(messageId: string, now: Date, purgeAfter: Date): Promise<void> {
    await this.em.execute(`update files set deleted_at = ?, purge_after = ? where message_id = ?::uuid and deleted_at is null`, [now, purgeAfter, messageId]);
  }

  /** Bytes a user keeps (files not yet purged: a deleted message's count until its bytes are gone). */
  async bytesOf(uploaderId: string): Promise<bigint> {
    const [row] = await this.em.execute<{ bytes: string | number | null }[]>(
      `select coalesce(sum(size + thumbnail_size), 0) as bytes from files where uploader_id = ?::uuid`,
      [uploaderId],
    );
    return BigInt(row?.bytes ?? 0);
  }

  async roomFiles(roomId: string, imagesOnly: boolean, after: { createdAt: Date; id: string } | null, count: number): Promise<StoredFile[]> {
    const rows = await this.em.execute<Record<string, unknown>[]>(ROOM_FILES_SQL, [
      roomId,
      imagesOnly,
      after?.createdAt ?? null,
      after?.createdAt ?? null,
      after?.id ?? null,
      count,
    ]);
    return rows.map((row) => this.em.map(StoredFile, row));
  }

  /** Withdraws an unattached upload of the uploader's: true if it was one (and is now gone). */
  async deleteUnattached(id: string, uploaderId: string): Promise<boolean> {
    const rows = await this.em.execute<unknown[]>(
      `delete from files where id = ?::uuid and uploader_id = ?::uuid and message_id is null returning id`,
      [id, uploaderId],
    );
    return rows.length > 0;
  }

  // --- the sweeper ---
  /** Ids of files to remove now: due after a delete, or uploads no message took in time. */
  async dueForRemoval(now: Date, unattachedBefore: Date, limit: number): Promise<string[]> {
    const rows = await this.em.execute<{ id: string }[]>(
      `select id from files where purge_after <= ? union select id from files where message_id is null and created_at < ? limit ?`,
      [now, unattachedBefore, limit],
    );
    return rows.map((row) => row.id);
  }

  async deleteRows(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.em.execute(`delete from files where id in (select value::uuid from jsonb_array_elements_text(?::jsonb))`, [JSON.stringify(ids)]);
  }

  /** Which of the ids have a row. */
  async existing(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.em.execute<{ id: string }[]>(
      `select id from files where id in (select value::uuid from jsonb_array_elements_text(?::jsonb))`,
      [JSON.stringify(ids)],
    );
    return new Set(rows.map((row) => row.id));
  }

  // --- secrets ---
  /** The secret `name`, made by `make` on first use (whichever replica is first wins). */
  async secret(name: string, make: () => string): Promise<string> {
    await this.em.execute(`insert into service_secrets (name, value) values (?, ?) on conflict do nothing`, [name, make()]);
    const row = await this.em.findOneOrFail(ServiceSecret, { name }, { refresh: true });
    return row.value;
  }
}
