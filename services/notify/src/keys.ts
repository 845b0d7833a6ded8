// The server's secrets in its database: the VAPID key pairs (made on first start, rotated by an
// operator; a retired pair signs the pushes of subscriptions made with it until none is left) and
// the unsubscribe secret, which signs the one-click unsubscribe tokens of emails.
import webpush from "web-push";
import type { NotifyDb } from "./db.js";
import type { VapidKey } from "./entities.js";
import { generateUnsubscribeSecret } from "./channels/unsubscribe-token.js";

const UNSUBSCRIBE_SECRET = "unsubscribe_secret";

/** The current VAPID key pair, made (once, whichever replica is first) if there is none. */
export async function currentVapidKey(db: NotifyDb, now = new Date()): Promise<VapidKey> {
  const existing = await db.fork().vapid.current();
  if (existing) return existing;
  await db.transactional(({ vapid }) => vapid.installFirst(webpush.generateVAPIDKeys(), now));
  const made = await db.fork().vapid.current();
  if (!made) throw new Error("no current VAPID key after making one");
  return made;
}

/** Makes a new pair current; the old one is kept while subscriptions use it. */
export async function rotateVapidKeys(db: NotifyDb, now = new Date()): Promise<VapidKey> {
  await db.transactional(async ({ vapid }) => {
    await vapid.install(webpush.generateVAPIDKeys(), now);
    await vapid.pruneRetired();
  });
  return (await db.fork().vapid.current())!;
}

/** The secret unsubscribe tokens are signed with (channels/unsubscribe-token.ts), made on first use. */
export async function unsubscribeSecret(db: NotifyDb): Promise<string> {
  return db.fork().settings.getOrCreate(UNSUBSCRIBE_SECRET, generateUnsubscribeSecret);
}
