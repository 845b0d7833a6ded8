// Download tokens for URLs (SignFileUrls / ReadFile.url_token): a browser's <img> sends no
// Authorization header, so the edge puts one of these in the URL. HMAC-SHA256 over the file,
// the variant, the user and the expiry, with a key made once and kept in the message database
// (service_secrets), so that every replica signs and checks alike. The token grants nothing by
// itself: its user must still be a member of the file's room when it is used.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const URL_KEY_SECRET = "file_url_key";

export function generateUrlKey(): string {
  return randomBytes(32).toString("base64url");
}

export interface UrlGrant {
  fileId: string;
  /** FileVariant: 1 original, 2 thumbnail. */
  variant: number;
  userId: string;
  /** Seconds since the epoch. */
  expires: number;
}

export class UrlSigner {
  private readonly key: Buffer;

  constructor(key: string) {
    this.key = Buffer.from(key, "base64url");
  }

  sign(grant: UrlGrant): string {
    const payload = Buffer.from(`${grant.fileId}.${grant.variant}.${grant.userId}.${grant.expires}`).toString("base64url");
    return `${payload}.${this.mac(payload)}`;
  }

  /** The grant of a token this key signed and that has not expired, or undefined. */
  verify(token: string, nowSeconds = Math.floor(Date.now() / 1000)): UrlGrant | undefined {
    const [payload, mac, ...rest] = token.split(".");
    if (!payload || !mac || rest.length > 0) return undefined;
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    const [fileId, variant, userId, expires, ...extra] = Buffer.from(payload, "base64url").toString().split(".");
    if (!fileId || !variant || !userId || !expires || extra.length > 0) return undefined;
    const grant = { fileId, variant: Number(variant), userId, expires: Number(expires) };
    if (!Number.isInteger(grant.expires) || grant.expires <= nowSeconds) return undefined;
    return grant;
  }

  private mac(payload: string): string {
    return createHmac("sha256", this.key).update(payload).digest("base64url");
  }
}
