// The WebSocket protocol's wire format (frames are defined in proto/parley/socket/v1),
// decoded and encoded for the socket tier. Server frames are encoded once per encoding
// and shared by every socket that receives them.
import { create, fromBinary, fromJson, toBinary, toJsonString, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { ClientFrameSchema, ServerFrameSchema, type ClientFrame, type ServerFrame } from "@parley/proto/socket/v1/socket_pb";
import { AUTH_SUBPROTOCOL_PREFIX, SUBPROTOCOLS, type Encoding } from "@parley/client/protocol";

// Subprotocols, close codes and the default frame limit are the client's (@parley/client/protocol): one definition.
export { AUTH_SUBPROTOCOL_PREFIX, CLOSE, DEFAULT_MAX_FRAME_BYTES, LARGEST_SEND_FRAME_BYTES, SUBPROTOCOLS, type Encoding } from "@parley/client/protocol";

export class FrameError extends Error {
  override name = "FrameError";
  /**
   * The frame's ref, when enough of the frame could be read to find it (the JSON parsed and
   * `ref` is a string; the binary frame's field 1 is readable): the Error answering it echoes it.
   */
  ref = "";
  /** A text frame that is not UTF-8 (RFC 6455 §8.1): the connection is failed with 1007, not answered. */
  invalidUtf8 = false;
}

/**
 * Forward compatibility, one rule for both encodings: fields (and enum values) this server does
 * not know are ignored, so a newer client can talk to an older server. A frame whose oneof is a
 * command this server does not know arrives with no command and is answered INVALID_ARGUMENT.
 */
const JSON_READ = { ignoreUnknownFields: true } as const;

export function decodeClientFrame(data: ArrayBuffer, isBinary: boolean, encoding: Encoding): ClientFrame {
  if (encoding === "proto") {
    if (!isBinary) throw new FrameError("expected a binary frame (parley.v1.proto)");
    const bytes = new Uint8Array(data);
    try {
      return fromBinary(ClientFrameSchema, bytes);
    } catch (error) {
      throw withRef(new FrameError(`malformed frame: ${(error as Error).message.slice(0, 200)}`), binaryRef(bytes));
    }
  }
  if (isBinary) throw new FrameError("expected a text frame (parley.v1.json)");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    const error = new FrameError("invalid UTF-8 in a text frame");
    error.invalidUtf8 = true;
    throw error;
  }
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new FrameError(`malformed frame: ${(error as Error).message.slice(0, 200)}`);
  }
  try {
    return fromJson(ClientFrameSchema, json, JSON_READ);
  } catch (error) {
    const ref = json !== null && typeof json === "object" && !Array.isArray(json) && typeof json.ref === "string" ? json.ref : "";
    throw withRef(new FrameError(`malformed frame: ${(error as Error).message.slice(0, 200)}`), ref);
  }
}

function withRef(error: FrameError, ref: string): FrameError {
  error.ref = ref;
  return error;
}

/**
 * ClientFrame.ref (field 1) read from bytes that failed to decode as a whole: the fields are read
 * in order up to the first unreadable one; "" when no ref came before it.
 */
function binaryRef(bytes: Uint8Array): string {
  const reader = new BinaryReader(bytes);
  let ref = "";
  try {
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      // The last ref wins, as it would in a frame that decodes.
      if (field === 1 && wireType === WireType.LengthDelimited) ref = reader.string();
      else reader.skip(wireType, field);
    }
  } catch {
    // Stopped at the broken part: what was read before it holds.
  }
  return ref;
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
