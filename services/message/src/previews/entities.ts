// The link previews' tables (issue 19, Migration20261204120000_link_previews): the previews a
// message shows, the messages waiting for theirs, the URLs their senders took off, the per-URL
// cache, and the re-hosted images (their ids are derived with the "link-image" key of service_secrets).
import { defineEntity, type InferEntity } from "@mikro-orm/core";

const p = defineEntity.properties;

/** A preview shown on a message, in the order of its links (position 0, 1, ...). */
export const MessageLinkPreview = defineEntity({
  name: "MessageLinkPreview",
  tableName: "message_link_previews",
  properties: {
    messageId: p.uuid().primary(),
    position: p.smallint().primary(),
    url: p.text(),
    title: p.text(),
    description: p.text(),
    siteName: p.text(),
    // link_images.id, or null when the page has no (usable) image.
    imageId: p.string().length(64).nullable(),
    imageWidth: p.integer().default(0),
    imageHeight: p.integer().default(0),
  },
  indexes: [
    // The sweep's question: does any message still show this image?
    {
      name: "message_link_previews_image_id_index",
      expression: `create index "message_link_previews_image_id_index" on "message_link_previews" ("image_id") where "image_id" is not null`,
    },
  ],
});
export type MessageLinkPreview = InferEntity<typeof MessageLinkPreview>;

/**
 * A message whose previews are to be (re)made: written in the send's (or the edit's) transaction,
 * removed by the worker once it stored them. `wantedAt` changes with each new request, so the
 * worker removes only the request it served; `claimedUntil` keeps two workers off one message.
 */
export const LinkPreviewJob = defineEntity({
  name: "LinkPreviewJob",
  tableName: "link_preview_jobs",
  properties: {
    messageId: p.uuid().primary(),
    wantedAt: p.datetime(),
    claimedUntil: p.datetime().nullable(),
  },
  indexes: [{ name: "link_preview_jobs_wanted_at_index", properties: ["wantedAt"] }],
});
export type LinkPreviewJob = InferEntity<typeof LinkPreviewJob>;

/** A URL whose preview the sender took off a message (RemoveLinkPreview): it stays off. */
export const RemovedLinkPreview = defineEntity({
  name: "RemovedLinkPreview",
  tableName: "removed_link_previews",
  properties: {
    messageId: p.uuid().primary(),
    url: p.text().primary(),
    removedAt: p.datetime(),
  },
});
export type RemovedLinkPreview = InferEntity<typeof RemovedLinkPreview>;

/** What a URL's page gave (preview null: it gave none), until expiresAt (LINK_PREVIEW_CACHE_SECONDS). */
export const LinkPreviewCache = defineEntity({
  name: "LinkPreviewCache",
  tableName: "link_preview_cache",
  properties: {
    url: p.text().primary(),
    preview: p.json<Record<string, unknown>>().nullable(),
    // Why it gave none (for logs and operators), when preview is null.
    failure: p.text().nullable(),
    fetchedAt: p.datetime(),
    expiresAt: p.datetime(),
  },
  indexes: [{ name: "link_preview_cache_expires_at_index", properties: ["expiresAt"] }],
});
export type LinkPreviewCache = InferEntity<typeof LinkPreviewCache>;

/** A page's image, fetched once, re-encoded to WebP and kept under "link-images/<id>". */
export const LinkImage = defineEntity({
  name: "LinkImage",
  tableName: "link_images",
  properties: {
    // base64url HMAC-SHA256 of the image URL under the server key: a capability, not guessable.
    id: p.string().length(64).primary(),
    sourceUrl: p.text(),
    mediaType: p.string().length(100),
    size: p.bigint(),
    width: p.integer(),
    height: p.integer(),
    // hex SHA-256 of the stored bytes (the strong ETag).
    etag: p.string().length(64),
    createdAt: p.datetime(),
    // When a preview last took it (made or re-made from its page): the sweep removes images no
    // message shows that were not used for twice the cache time.
    usedAt: p.datetime(),
  },
  indexes: [{ name: "link_images_used_at_index", properties: ["usedAt"] }],
});
export type LinkImage = InferEntity<typeof LinkImage>;

export const linkPreviewEntities = [MessageLinkPreview, LinkPreviewJob, RemovedLinkPreview, LinkPreviewCache, LinkImage];
