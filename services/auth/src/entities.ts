// The auth service's tables: credentials, sessions (one refresh-token family
// each), the refresh tokens of a session, and signing keys.
import { defineEntity, type InferEntity } from "@mikro-orm/core";

const p = defineEntity.properties;

export const Credential = defineEntity({
  name: "Credential",
  tableName: "credentials",
  properties: {
    userId: p.uuid().primary(),
    passwordHash: p.text().hidden(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});
export type Credential = InferEntity<typeof Credential>;

export const Session = defineEntity({
  name: "Session",
  tableName: "sessions",
  properties: {
    id: p.uuid().primary(),
    userId: p.uuid().index(),
    userAgent: p.string().length(512).default(""),
    clientAddress: p.string().length(64).default(""),
    createdAt: p.datetime().onCreate(() => new Date()),
    lastUsedAt: p.datetime(),
    expiresAt: p.datetime(),
    revokedAt: p.datetime().nullable(),
    // Why it ended: logout, logout_all, reuse (a rotated refresh token came back).
    revokedReason: p.string().length(32).nullable(),
  },
});
export type Session = InferEntity<typeof Session>;

export const RefreshToken = defineEntity({
  name: "RefreshToken",
  tableName: "refresh_tokens",
  properties: {
    // SHA-256 of the token, hex; the token itself is never stored.
    tokenHash: p.string().length(64).primary(),
    sessionId: p.uuid().index(),
    createdAt: p.datetime().onCreate(() => new Date()),
    // Set when the token was traded for a new one; a second use revokes the session.
    rotatedAt: p.datetime().nullable(),
  },
});
export type RefreshToken = InferEntity<typeof RefreshToken>;

export const SigningKey = defineEntity({
  name: "SigningKey",
  tableName: "signing_keys",
  properties: {
    kid: p.string().length(64).primary(),
    // Ed25519 private key as a JWK; never leaves the service.
    privateJwk: p.json<Record<string, unknown>>().hidden(),
    publicJwk: p.json<Record<string, unknown>>(),
    createdAt: p.datetime().onCreate(() => new Date()),
    // When another key took over signing; published until its last token has expired.
    retiredAt: p.datetime().nullable(),
  },
});
export type SigningKey = InferEntity<typeof SigningKey>;

export const entities = [Credential, Session, RefreshToken, SigningKey];
