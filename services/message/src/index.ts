export { build } from "./server.js";
export { launch } from "./launch.js";
export { initORM, type MessageDb } from "./db.js";
export { messageEnv, type MessageEnv } from "./env.js";
export { toMessage, type MessageDeps } from "./service.js";
export { BODY_MAX_CHARACTERS, BODY_RULE, CLIENT_MSG_ID_RULE, messageRules } from "./message-rules.js";
