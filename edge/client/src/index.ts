export { CloseCode, FRAME_TOO_LARGE, LiveClient, LiveError, newClientMsgId, PresenceState, Reason, Role, type ConnectionState, type Encoding, type LiveClientOptions, type LiveEvents, type Membership, type Message, type Notification, type Position, type Room, type SearchMessagesResponse, type SearchOptions, type SubscribeFrom, type WebSocketConstructor, type WebSocketLike } from "./live.js";
export { Emitter } from "./emitter.js";
export { FILE_SIZE_HEADER, fileJsonOf, linkImagePath, linkPreviewJsonOf, uploadFile, UploadError, type FileDisplayName, type FileJson, type LinkPreviewJson, type UploadFileOptions, type UploadProgress } from "./files.js";
export { FileDisplay, FileVariant, type File } from "@parley/proto/file/v1/file_pb";
export type { LinkPreview } from "@parley/proto/message/v1/message_pb";
export { MentionBroadcast, SearchOrder } from "@parley/proto/message/v1/message_pb";
export {
  AUTH_SUBPROTOCOL_PREFIX,
  CLOSE,
  DEFAULT_MAX_FRAME_BYTES,
  FILES_PER_MESSAGE_MAX,
  isRetryable,
  LARGEST_SEND_FRAME_BYTES,
  offeredSubprotocols,
  RETRYABLE_CODES,
  SUBPROTOCOLS,
} from "./protocol.js";
