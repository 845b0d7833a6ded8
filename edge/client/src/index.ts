export { CloseCode, FRAME_TOO_LARGE, LiveClient, LiveError, newClientMsgId, PresenceState, Reason, Role, type ConnectionState, type Encoding, type LiveClientOptions, type LiveEvents, type Membership, type Message, type Notification, type Position, type Room, type SearchMessagesResponse, type SearchOptions, type SubscribeFrom, type WebSocketConstructor, type WebSocketLike } from "./live.js";
export { Emitter } from "./emitter.js";
export { MentionBroadcast, SearchOrder } from "@parley/proto/message/v1/message_pb";
export {
  AUTH_SUBPROTOCOL_PREFIX,
  CLOSE,
  DEFAULT_MAX_FRAME_BYTES,
  isRetryable,
  LARGEST_SEND_FRAME_BYTES,
  offeredSubprotocols,
  RETRYABLE_CODES,
  SUBPROTOCOLS,
} from "./protocol.js";
