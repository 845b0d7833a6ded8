export { CloseCode, FRAME_TOO_LARGE, LiveClient, LiveError, newClientMsgId, PresenceState, type ConnectionState, type Encoding, type LiveClientOptions, type LiveEvents, type Message, type WebSocketConstructor, type WebSocketLike } from "./live.js";
export { Emitter } from "./emitter.js";
