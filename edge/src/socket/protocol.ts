// The WebSocket protocol's wire format (frames are defined in proto/parley/socket/v1),
// its subprotocols and close codes. Server frames are encoded once per encoding
// and shared by every socket that receives them.
import { create, fromBinary, fromJsonString, toBinary, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { BODY_MAX_CHARACTERS } from "@parley/message/rules";
import { ClientFrameSchema, CloseCode, ServerFrameSchema, type ClientFrame, type ServerFrame } from "@parley/proto/socket/v1/socket_pb";

export type Encoding = "json" | "proto";

export const SUBPROTOCOLS: Record<Encoding, string> = { json: "parley.v1.json", proto: "parley.v1.proto" };
/** A subprotocol entry carrying the access token: `parley.auth.<token>`. */
export const AUTH_SUBPROTOCOL_PREFIX = "parley.auth.";

/** Close codes of the socket tier: the CloseCode enum of socket.proto. */
export const CLOSE = {
  serviceRestart: CloseCode.SERVICE_RESTART,
  policyViolation: CloseCode.POLICY_VIOLATION,
  frameTooLarge: CloseCode.FRAME_TOO_LARGE,
  authExpired: CloseCode.AUTH_EXPIRED,
  sessionsRevoked: CloseCode.SESSIONS_REVOKED,
  slowConsumer: CloseCode.SLOW_CONSUMER,
} as const;

/**
 * The largest Send frame a valid message can make. JSON may escape any UTF-16 unit as \uXXXX
 * (6 bytes), and the body rule allows up to two units per character; binary protobuf takes at
 * most 4 bytes per character. The envelope allowance covers the keys, the ids and a ref of
 * about a hundred characters, every one of them escaped too.
 */
export const LARGEST_SEND_FRAME_BYTES = BODY_MAX_CHARACTERS * 2 * 6 + 2048;
/** The default frame limit: the largest valid Send with a quarter to spare, rounded to 64 KiB. */
export const DEFAULT_MAX_FRAME_BYTES = Math.ceil((LARGEST_SEND_FRAME_BYTES * 1.25) / 65_536) * 65_536;

export class FrameError extends Error {
  override name = "FrameError";
}

export function decodeClientFrame(data: ArrayBuffer, isBinary: boolean, encoding: Encoding): ClientFrame {
  try {
    if (encoding === "proto") {
      if (!isBinary) throw new FrameError("expected a binary frame (parley.v1.proto)");
      return fromBinary(ClientFrameSchema, new Uint8Array(data));
    }
    if (isBinary) throw new FrameError("expected a text frame (parley.v1.json)");
    return fromJsonString(ClientFrameSchema, new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch (error) {
    if (error instanceof FrameError) throw error;
    throw new FrameError(`malformed frame: ${(error as Error).message.slice(0, 200)}`);
  }
}

/** A server frame serialised lazily, at most once per encoding. */
export class OutgoingFrame {
  private json?: string;
  private binary?: Uint8Array;
  readonly frame: ServerFrame;

  constructor(init: MessageInitShape<typeof ServerFrameSchema> | ServerFrame) {
    this.frame = "$typeName" in init && init.$typeName ? (init as ServerFrame) : create(ServerFrameSchema, init);
  }

  encoded(encoding: Encoding): string | Uint8Array {
    if (encoding === "json") return (this.json ??= toJsonString(ServerFrameSchema, this.frame));
    return (this.binary ??= toBinary(ServerFrameSchema, this.frame));
  }
}

/** Splits a Sec-WebSocket-Protocol header into the encoding asked for and the token, if any. */
export function parseSubprotocols(header: string): { encoding: Encoding; chosen: string; token?: string } {
  const offered = header
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const token = offered.find((p) => p.startsWith(AUTH_SUBPROTOCOL_PREFIX))?.slice(AUTH_SUBPROTOCOL_PREFIX.length);
  if (offered.includes(SUBPROTOCOLS.proto)) return { encoding: "proto", chosen: SUBPROTOCOLS.proto, token };
  if (offered.includes(SUBPROTOCOLS.json)) return { encoding: "json", chosen: SUBPROTOCOLS.json, token };
  return { encoding: "json", chosen: "", token };
}
