// The WebSocket protocol's wire format (frames are defined in proto/parley/socket/v1),
// decoded and encoded for the socket tier. Server frames are encoded once per encoding
// and shared by every socket that receives them.
import { create, fromBinary, fromJsonString, toBinary, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema, type ClientFrame, type ServerFrame } from "@parley/proto/socket/v1/socket_pb";
import { AUTH_SUBPROTOCOL_PREFIX, SUBPROTOCOLS, type Encoding } from "@parley/client/protocol";

// Subprotocols, close codes and the default frame limit are the client's (@parley/client/protocol): one definition.
export { AUTH_SUBPROTOCOL_PREFIX, CLOSE, DEFAULT_MAX_FRAME_BYTES, LARGEST_SEND_FRAME_BYTES, SUBPROTOCOLS, type Encoding } from "@parley/client/protocol";

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
