// The server's secrets in its database: the VAPID key pairs (made on first start, rotated by an
// operator; a retired pair signs the pushes of subscriptions made with it until none is left) and
// the unsubscribe secret, which signs the one-click unsubscribe tokens of emails.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import webpush from "web-push";
import type { NotifyDb } from "./db.js";
import type { VapidKey } from "./entities.js";

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

export async function unsubscribeSecret(db: NotifyDb): Promise<Buffer> {
  const value = await db.fork().settings.getOrCreate(UNSUBSCRIBE_SECRET, () => randomBytes(32).toString("base64url"));
  return Buffer.from(value, "base64url");
}

const mac = (secret: Buffer, userId: string) => createHmac("sha256", secret).update(`parley.unsubscribe:${userId}`).digest();

/** `<user id>.<HMAC-SHA256 of it>`: valid as long as the secret, for that person only. */
export function unsubscribeToken(secret: Buffer, userId: string): string {
  return `${userId}.${mac(secret, userId).toString("base64url")}`;
}

/** The person a token was made for, or undefined for a bad or forged token. */
export function verifyUnsubscribeToken(secret: Buffer, token: string): string | undefined {
  const match = /^([0-9a-f-]{36})\.([A-Za-z0-9_-]{43})$/i.exec(token);
  if (!match) return undefined;
  const [, userId, signature] = match;
  const expected = mac(secret, userId!.toLowerCase());
  const given = Buffer.from(signature!, "base64url");
  return given.length === expected.length && timingSafeEqual(given, expected) ? userId!.toLowerCase() : undefined;
}
