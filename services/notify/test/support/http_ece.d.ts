// http_ece ships no types: the part the test sinks use (RFC 8188 / RFC 8291 decryption).
declare module "http_ece" {
  import type { ECDH } from "node:crypto";
  export interface EceParams {
    version?: "aes128gcm" | "aesgcm" | "aesgcm128";
    /** The receiver's key pair (the browser's, for a push message). */
    privateKey?: ECDH;
    /** The sender's public key (aesgcm; aes128gcm carries it in the header). */
    dh?: string | Buffer;
    authSecret?: string | Buffer;
    key?: string | Buffer;
    salt?: string | Buffer;
    rs?: number;
    keyid?: string;
    keymap?: Record<string, ECDH>;
  }
  export function decrypt(buffer: Buffer, params: EceParams): Buffer;
  export function encrypt(buffer: Buffer, params: EceParams): Buffer;
  const ece: { decrypt: typeof decrypt; encrypt: typeof encrypt };
  export default ece;
}
