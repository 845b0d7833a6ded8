// The message service's database: its entities, its migrations, and its data access in the
// kit's one style (services/kit/src/db.ts): `db.fork()` or `db.transactional()` per unit of
// work, giving the repositories `messages` and `heads` over that fork.
import { dataAccess, openDatabase, type DatabaseOptions } from "@parley/kit";
import { Message, RoomHead, StoredFile, ThreadFollow, entities } from "./entities.js";
import { FileRepository } from "./files/repository.js";
import { migrations } from "./migrations/index.js";
import { LinkPreviewRepository } from "./previews/repository.js";
import { MessageRepository, RoomHeadRepository, SearchRepository, ThreadFollowRepository } from "./repositories.js";

export async function initORM(options: Pick<DatabaseOptions, "databaseUrl" | "dataDir" | "log">) {
  // pg_trgm: the search's trigram index (issue 17; the migration creates the extension, PGlite needs it loaded).
  const orm = await openDatabase({ ...options, service: "message", entities, migrations, extensions: ["pg_trgm"] });
  return dataAccess(orm, (em) => ({
    messages: new MessageRepository(em, Message),
    heads: new RoomHeadRepository(em, RoomHead),
    threads: new ThreadFollowRepository(em, ThreadFollow),
    search: new SearchRepository(em),
    files: new FileRepository(em, StoredFile),
    // Link previews (issue 19): their queue, cache, removed URLs and re-hosted images.
    previews: new LinkPreviewRepository(em),
  }));
}

export type MessageDb = Awaited<ReturnType<typeof initORM>>;
