// The link previews' data access, over one fork (or transaction) of the message database.
import type { Em } from "@parley/kit";

/** A preview as a message shows it (LinkPreview on the wire; imageId "" when it has none). */
export interface StoredPreview {
  url: string;
  title: string;
  description: string;
  siteName: string;
  imageId: string;
  imageWidth: number;
  imageHeight: number;
}

export interface LinkImageRow {
  id: string;
  sourceUrl: string;
  mediaType: string;
  size: number;
  width: number;
  height: number;
  etag: string;
  createdAt: Date;
}

export class LinkPreviewRepository {
  constructor(private readonly em: Em) {}

  /** The previews of each message, by message id, in the order of its links. */
  async previewsOf(messageIds: readonly string[]): Promise<Map<string, StoredPreview[]>> {
    const byMessage = new Map<string, StoredPreview[]>();
    if (messageIds.length === 0) return byMessage;
    const rows = await this.em.execute<Record<string, unknown>[]>(
      `select message_id, url, title, description, site_name, image_id, image_width, image_height
       from message_link_previews where message_id in (select value::uuid from jsonb_array_elements_text(?::jsonb)) order by message_id, position`,
      [JSON.stringify(messageIds)],
    );
    for (const row of rows) {
      const list = byMessage.get(row.message_id as string) ?? [];
      list.push({
        url: row.url as string,
        title: row.title as string,
        description: row.description as string,
        siteName: row.site_name as string,
        imageId: (row.image_id as string | null) ?? "",
        imageWidth: Number(row.image_width),
        imageHeight: Number(row.image_height),
      });
      byMessage.set(row.message_id as string, list);
    }
    return byMessage;
  }

  /** Replaces the message's previews; whether that changed anything. In the change's transaction. */
  async replacePreviews(messageId: string, previews: readonly StoredPreview[]): Promise<boolean> {
    const current = (await this.previewsOf([messageId])).get(messageId) ?? [];
    if (JSON.stringify(current) === JSON.stringify(previews)) return false;
    await this.em.execute(`delete from message_link_previews where message_id = ?::uuid`, [messageId]);
    for (const [position, p] of previews.entries()) {
      await this.em.execute(
        `insert into message_link_previews (message_id, position, url, title, description, site_name, image_id, image_width, image_height)
         values (?::uuid, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [messageId, position, p.url, p.title, p.description, p.siteName, p.imageId || null, p.imageWidth, p.imageHeight],
      );
    }
    return true;
  }

  // --- the queue ---

  /** Asks for the message's previews (again): in the send's or edit's transaction. */
  async markWanted(messageId: string): Promise<void> {
    await this.em.execute(
      `insert into link_preview_jobs (message_id, wanted_at, claimed_until) values (?::uuid, clock_timestamp(), null)
       on conflict (message_id) do update set wanted_at = excluded.wanted_at, claimed_until = null`,
      [messageId],
    );
  }

  /** Takes the message's request for `seconds` (none: another worker has it, or it is done); the request's time. */
  async claim(messageId: string, seconds: number): Promise<Date | null> {
    const [row] = await this.em.execute<{ wanted_at: Date | string }[]>(
      `update link_preview_jobs set claimed_until = clock_timestamp() + make_interval(secs => ?)
       where message_id = ?::uuid and (claimed_until is null or claimed_until < clock_timestamp()) returning wanted_at`,
      [seconds, messageId],
    );
    return row ? new Date(row.wanted_at) : null;
  }

  /** Done with the request taken at `wantedAt`; a newer one (an edit meanwhile) stays. */
  async finish(messageId: string, wantedAt: Date): Promise<void> {
    await this.em.execute(`delete from link_preview_jobs where message_id = ?::uuid and wanted_at = ?`, [messageId, wantedAt]);
  }

  /** Requests older than `before` that no worker holds (a crash left them, or a busy queue dropped them). */
  async waiting(before: Date, limit: number): Promise<string[]> {
    const rows = await this.em.execute<{ message_id: string }[]>(
      `select message_id from link_preview_jobs where wanted_at < ? and (claimed_until is null or claimed_until < clock_timestamp())
       order by wanted_at limit ?`,
      [before, limit],
    );
    return rows.map((r) => r.message_id);
  }

  // --- removed previews ---

  async removedUrls(messageId: string): Promise<string[]> {
    const rows = await this.em.execute<{ url: string }[]>(`select url from removed_link_previews where message_id = ?::uuid`, [messageId]);
    return rows.map((r) => r.url);
  }

  async removeUrl(messageId: string, url: string): Promise<void> {
    await this.em.execute(
      `insert into removed_link_previews (message_id, url, removed_at) values (?::uuid, ?, clock_timestamp()) on conflict do nothing`,
      [messageId, url],
    );
  }

  // --- the cache ---

  /** What the URL gave, while fresh: a preview, null (it gave none), or undefined (not cached). */
  async cached(url: string): Promise<Omit<StoredPreview, "url"> | null | undefined> {
    const [row] = await this.em.execute<{ preview: Omit<StoredPreview, "url"> | string | null }[]>(
      `select preview from link_preview_cache where url = ? and expires_at > clock_timestamp()`,
      [url],
    );
    if (!row) return undefined;
    if (row.preview === null) return null;
    return typeof row.preview === "string" ? (JSON.parse(row.preview) as Omit<StoredPreview, "url">) : row.preview;
  }

  async cache(url: string, preview: Omit<StoredPreview, "url"> | null, failure: string | null, seconds: number): Promise<void> {
    await this.em.execute(
      `insert into link_preview_cache (url, preview, failure, fetched_at, expires_at)
       values (?, ?::jsonb, ?, clock_timestamp(), clock_timestamp() + make_interval(secs => ?))
       on conflict (url) do update set preview = excluded.preview, failure = excluded.failure, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
      [url, preview === null ? null : JSON.stringify(preview), failure, seconds],
    );
  }

  // --- re-hosted images ---

  async linkImage(id: string): Promise<LinkImageRow | null> {
    const [row] = await this.em.execute<Record<string, unknown>[]>(
      `select id, source_url, media_type, size, width, height, etag, created_at from link_images where id = ?`,
      [id],
    );
    if (!row) return null;
    return {
      id: row.id as string,
      sourceUrl: row.source_url as string,
      mediaType: row.media_type as string,
      size: Number(row.size),
      width: Number(row.width),
      height: Number(row.height),
      etag: row.etag as string,
      createdAt: new Date(row.created_at as string),
    };
  }

  /** Another worker wrote the same image meanwhile: same URL, same id, the same bytes to the same key. */
  async addLinkImage(image: Omit<LinkImageRow, "createdAt">): Promise<void> {
    await this.em.execute(
      `insert into link_images (id, source_url, media_type, size, width, height, etag, created_at, used_at)
       values (?, ?, ?, ?, ?, ?, ?, clock_timestamp(), clock_timestamp()) on conflict (id) do update set used_at = excluded.used_at`,
      [image.id, image.sourceUrl, image.mediaType, image.size, image.width, image.height, image.etag],
    );
  }

  /**
   * Marks a stored image as used now and gives its size; null when there is none. Waits for a
   * sweep that holds the row (removing it), so that an image is either kept or made again.
   */
  async useLinkImage(id: string): Promise<{ width: number; height: number } | null> {
    const [row] = await this.em.execute<{ width: number; height: number }[]>(
      `update link_images set used_at = clock_timestamp() where id = ? returning width, height`,
      [id],
    );
    return row ? { width: Number(row.width), height: Number(row.height) } : null;
  }

  /** Images no message shows and no preview took for `seconds` (the sweep's candidates). */
  async unusedLinkImages(seconds: number, limit: number): Promise<string[]> {
    const rows = await this.em.execute<{ id: string }[]>(
      `select id from link_images i where used_at < clock_timestamp() - make_interval(secs => ?)
       and not exists (select 1 from message_link_previews p where p.image_id = i.id) order by used_at limit ?`,
      [seconds, limit],
    );
    return rows.map((r) => r.id);
  }

  /** In the sweep's transaction: locks the image's row if it is still unused (false: used meanwhile, or another sweep has it). */
  async lockUnusedLinkImage(id: string, seconds: number): Promise<boolean> {
    const rows = await this.em.execute<unknown[]>(
      `select id from link_images i where id = ? and used_at < clock_timestamp() - make_interval(secs => ?)
       and not exists (select 1 from message_link_previews p where p.image_id = i.id) for update skip locked`,
      [id, seconds],
    );
    return rows.length > 0;
  }

  async deleteLinkImage(id: string): Promise<void> {
    await this.em.execute(`delete from link_images where id = ?`, [id]);
  }

  /** A deleted message shows no previews: in the delete's transaction. */
  async dropPreviews(messageId: string): Promise<void> {
    await this.em.execute(`delete from message_link_previews where message_id = ?::uuid`, [messageId]);
  }

  /** Cache entries past their time (they are never read again). */
  async dropExpiredCache(limit: number): Promise<number> {
    const rows = await this.em.execute<unknown[]>(
      `delete from link_preview_cache where url in (select url from link_preview_cache where expires_at < clock_timestamp() limit ?) returning url`,
      [limit],
    );
    return rows.length;
  }
}
