// Access tokens for the processes that check them (the edge and the socket tier) and the one that
// signs them (the auth service): claims, the verifier, and the cache of ended sessions.
// A module of its own (@parley/kit/tokens), so that checking a token never needs the auth service's code.
export { ACCESS_TOKEN_TTL_SECONDS, ACCESS_TOKEN_TYPE, ACCESS_TOKEN_USE, DEFAULT_AUDIENCE, DEFAULT_ISSUER, SIGNING_ALG } from "./claims.js";
export { createAccessTokenVerifier, TokenRejectedError, type AccessClaims, type AccessTokenVerifier, type TokenRejection, type VerifierOptions } from "./verify.js";
export { createSessionStates, type SessionStates, type SessionStatesOptions } from "./sessions.js";
