// Access-token verification for the edge and the socket tier: jose, EdDSA only,
// iss/aud/exp/typ required, keys only from our own JWKS (cached, refetched on
// an unknown kid, at most once per refetchIntervalMs).
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWK } from "jose";
import { ACCESS_TOKEN_TTL_SECONDS, ACCESS_TOKEN_TYPE, ACCESS_TOKEN_USE, DEFAULT_AUDIENCE, DEFAULT_ISSUER, SIGNING_ALG } from "./claims.js";

export interface AccessClaims {
  userId: string;
  sessionId: string;
  tokenId: string;
  /** ms since the epoch */
  expiresAt: number;
}

export type TokenRejection = "missing" | "malformed" | "expired" | "invalid";

export class TokenRejectedError extends Error {
  override name = "TokenRejectedError";
  constructor(
    readonly reason: TokenRejection,
    message: string,
  ) {
    super(message);
  }
}

export interface VerifierOptions {
  /** Fetches the current public keys (from AuthService.GetJwks). */
  loadKeys: () => Promise<JWK[]>;
  issuer?: string;
  audience?: string;
  /** Keys are re-read after this long even if no unknown kid shows up. */
  maxAgeMs?: number;
  /** An unknown kid triggers at most one refetch per this interval. */
  refetchIntervalMs?: number;
  clockToleranceSeconds?: number;
  /** The access-token TTL the auth service issues with: no genuine token lives longer. */
  maxLifetimeSeconds?: number;
}

export interface AccessTokenVerifier {
  verify(token: string | undefined): Promise<AccessClaims>;
}

export function createAccessTokenVerifier(options: VerifierOptions): AccessTokenVerifier {
  const issuer = options.issuer ?? DEFAULT_ISSUER;
  const audience = options.audience ?? DEFAULT_AUDIENCE;
  const maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
  const refetchIntervalMs = options.refetchIntervalMs ?? 5_000;
  const toleranceSeconds = options.clockToleranceSeconds ?? 5;
  const maxLifetimeSeconds = options.maxLifetimeSeconds ?? ACCESS_TOKEN_TTL_SECONDS;
  let keySet: ReturnType<typeof createLocalJWKSet> | undefined;
  let fetchedAt = 0;
  let inFlight: Promise<void> | undefined;

  const refresh = () => {
    inFlight ??= options
      .loadKeys()
      .then((keys) => {
        keySet = createLocalJWKSet({ keys } satisfies JSONWebKeySet);
        fetchedAt = Date.now();
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  const check = async (token: string) => {
    if (!keySet || Date.now() - fetchedAt > maxAgeMs) await refresh();
    return jwtVerify(token, keySet!, {
      algorithms: [SIGNING_ALG],
      issuer,
      audience,
      typ: ACCESS_TOKEN_TYPE,
      requiredClaims: ["iss", "aud", "sub", "exp", "iat", "jti", "sid", "typ"],
      clockTolerance: toleranceSeconds,
      // Also refuses an iat in the future (beyond the tolerance): a token minted ahead of time.
      maxTokenAge: maxLifetimeSeconds,
    });
  };

  return {
    async verify(token) {
      if (!token) throw new TokenRejectedError("missing", "an access token is required");
      if (token.length > 4096 || token.split(".").length !== 3) {
        throw new TokenRejectedError("malformed", "the access token is malformed");
      }
      let result;
      try {
        try {
          result = await check(token);
        } catch (error) {
          if (!(error instanceof errors.JWKSNoMatchingKey) || Date.now() - fetchedAt < refetchIntervalMs) throw error;
          await refresh(); // a key rotated in since the last fetch
          result = await check(token);
        }
      } catch (error) {
        if (error instanceof errors.JWTExpired) throw new TokenRejectedError("expired", "the access token has expired");
        if (error instanceof errors.JOSEError) throw new TokenRejectedError("invalid", "the access token is not valid");
        throw error; // the key source failed: not the caller's fault
      }
      const { payload } = result;
      // A signing key that leaked, or a bug, must not mint tokens that outlive the configured TTL.
      const lifetime = payload.exp! - payload.iat!;
      if (lifetime > maxLifetimeSeconds + toleranceSeconds) throw new TokenRejectedError("invalid", "the access token is not valid");
      if (payload.typ !== ACCESS_TOKEN_USE || typeof payload.sid !== "string" || typeof payload.sub !== "string") {
        throw new TokenRejectedError("invalid", "the access token is not valid");
      }
      return { userId: payload.sub, sessionId: payload.sid, tokenId: String(payload.jti), expiresAt: payload.exp! * 1000 };
    },
  };
}
