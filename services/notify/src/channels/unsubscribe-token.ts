// Email unsubscribe tokens (issue 18, RFC 8058): the link in every notification email and its
// List-Unsubscribe header carry a token naming the person, so that anyone holding the email can
// turn its notifications off without signing in, and nobody can forge one for someone else.
//
//   token = base64url(user id) "." base64url(HMAC-SHA256(secret, "parley-unsubscribe-v1:" user id))
//
// The secret is the service's own (made once with generateUnsubscribeSecret and stored in its
// database); the MAC is compared in constant time. Tokens do not expire (an old email's link keeps
// working); verifyUnsubscribeToken takes several secrets so one can be rotated: sign with the new
// one, keep verifying the old one for as long as its emails should keep working.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

const PURPOSE = "parley-unsubscribe-v1:";
const MAC_BYTES = 32;
/** User ids are UUIDs; anything much longer is not a token of ours. */
const MAX_USER_ID_BYTES = 128;
export const MIN_SECRET_BYTES = 32;

export type UnsubscribeSecret = string | Uint8Array;

/** 32 random bytes, base64url: a new secret. */
export function generateUnsubscribeSecret(): string {
  return randomBytes(MIN_SECRET_BYTES).toString("base64url");
}

function secretBytes(secret: UnsubscribeSecret): Buffer {
  const bytes = typeof secret === "string" ? Buffer.from(secret, "base64url") : Buffer.from(secret);
  if (bytes.length < MIN_SECRET_BYTES) throw new Error(`unsubscribe secret: at least ${MIN_SECRET_BYTES} bytes (base64url)`);
  return bytes;
}

function mac(userId: string, secret: Buffer): Buffer {
  return createHmac("sha256", secret).update(PURPOSE + userId, "utf8").digest();
}

/** The token for one person. */
export function signUnsubscribeToken(userId: string, secret: UnsubscribeSecret): string {
  if (typeof userId !== "string" || userId === "" || Buffer.byteLength(userId, "utf8") > MAX_USER_ID_BYTES) {
    throw new Error("unsubscribe token: the user id must be 1-128 bytes");
  }
  return `${Buffer.from(userId, "utf8").toString("base64url")}.${mac(userId, secretBytes(secret)).toString("base64url")}`;
}

/** The user id a token was made for, or null when it is malformed or not signed with any of the secrets. */
export function verifyUnsubscribeToken(token: string, secrets: UnsubscribeSecret | readonly UnsubscribeSecret[]): string | null {
  if (typeof token !== "string" || token.length > 400) return null;
  const match = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(token);
  if (!match) return null;
  const idBytes = Buffer.from(match[1]!, "base64url");
  const given = Buffer.from(match[2]!, "base64url");
  // Canonical encodings only: one token per person and secret.
  if (idBytes.toString("base64url") !== match[1] || given.toString("base64url") !== match[2]) return null;
  if (idBytes.length === 0 || idBytes.length > MAX_USER_ID_BYTES || given.length !== MAC_BYTES) return null;
  const userId = idBytes.toString("utf8");
  if (!Buffer.from(userId, "utf8").equals(idBytes)) return null; // not UTF-8
  const list = (Array.isArray(secrets) ? secrets : [secrets]) as readonly UnsubscribeSecret[];
  let ok = false;
  for (const secret of list) {
    // Every secret is tried (no early exit): the time does not say which one matched.
    if (timingSafeEqual(mac(userId, secretBytes(secret)), given)) ok = true;
  }
  return ok ? userId : null;
}
