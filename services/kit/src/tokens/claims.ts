// What an access token says and how it is checked: shared by the signer (the auth service)
// and the verifier (the edge and the socket tier).
/** The only algorithm access tokens are signed with (Ed25519). */
export const SIGNING_ALG = "EdDSA";
export const ACCESS_TOKEN_TYPE = "at+jwt"; // header typ (RFC 9068)
export const ACCESS_TOKEN_USE = "access"; // claim typ: never a refresh or any other token
export const DEFAULT_ISSUER = "parley";
export const DEFAULT_AUDIENCE = "parley";
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
