// The constants of Parley's real-time protocol, exported once: the client, the socket tier
// (edge/src/socket/protocol.ts) and the load tests (bench/lib) all read them from here.
// Frames themselves are defined in proto/parley/socket/v1/socket.proto.
import { BODY_MAX_CHARACTERS } from "@parley/proto/rules";
import { CloseCode } from "@parley/proto/socket/v1/socket_pb";

export type Encoding = "json" | "proto";

/** The Sec-WebSocket-Protocol of each encoding. */
export const SUBPROTOCOLS: Readonly<Record<Encoding, string>> = { json: "parley.v1.json", proto: "parley.v1.proto" };
/** A subprotocol entry carrying the access token: `parley.auth.<token>`. */
export const AUTH_SUBPROTOCOL_PREFIX = "parley.auth.";

/** The subprotocols a client offers: its encoding and its access token. */
export function offeredSubprotocols(encoding: Encoding, token: string): string[] {
  return [SUBPROTOCOLS[encoding], `${AUTH_SUBPROTOCOL_PREFIX}${token}`];
}

/** Close codes of the socket tier (the CloseCode enum of socket.proto). */
export { CloseCode };

/** The close codes by what they mean, as the socket tier sends them. */
export const CLOSE = {
  serviceRestart: CloseCode.SERVICE_RESTART,
  policyViolation: CloseCode.POLICY_VIOLATION,
  invalidPayload: CloseCode.INVALID_PAYLOAD,
  frameTooLarge: CloseCode.FRAME_TOO_LARGE,
  authExpired: CloseCode.AUTH_EXPIRED,
  sessionsRevoked: CloseCode.SESSIONS_REVOKED,
  slowConsumer: CloseCode.SLOW_CONSUMER,
} as const;

/** The files one message may carry (SendMessageRequest.file_ids, socket Send.file_ids: "at most 10"). */
export const FILES_PER_MESSAGE_MAX = 10;

/**
 * The largest Send frame a valid message can make. JSON may escape any UTF-16 unit as \uXXXX
 * (6 bytes), and the body rule allows up to two units per character; binary protobuf takes at
 * most 4 bytes per character. The envelope allowance covers the keys, the ids and a ref of
 * about a hundred characters, every one of them escaped too, and the file ids (36 characters
 * each, escaped, with their quotes and comma).
 */
export const LARGEST_SEND_FRAME_BYTES = BODY_MAX_CHARACTERS * 2 * 6 + 2048 + FILES_PER_MESSAGE_MAX * (36 * 6 + 3);
/** The default frame limit: the largest valid Send with a quarter to spare, rounded to 64 KiB. */
export const DEFAULT_MAX_FRAME_BYTES = Math.ceil((LARGEST_SEND_FRAME_BYTES * 1.25) / 65_536) * 65_536;

/**
 * Error codes (gRPC code names, as Error frames carry them) after which the same request may be
 * sent again: the server was unavailable, out of time, busy, or failed unexpectedly, and may not
 * have done it. A Send is retried with its clientMsgId, so it is stored at most once.
 */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(["UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "UNKNOWN", "INTERNAL"]);

export function isRetryable(code: string): boolean {
  return RETRYABLE_CODES.has(code);
}
