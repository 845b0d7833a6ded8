// build(): the message service as an unstarted gRPC server (tests listen on port 0): MessageService
// and FileService (issue 19: files live with the messages they are attached to).
import { createGrpcServer, implement, type InternalAuth } from "@parley/kit";
import { FileService } from "@parley/proto/file/v1/file_pb";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import { FileServiceImpl } from "./files/service.js";
import { RoomGate } from "./room-access.js";
import { MessageServiceImpl, type MessageDeps } from "./service.js";

/** A chunk of an upload (1 MiB) and its framing fit with room to spare. */
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export function build(deps: MessageDeps, internalAuth: InternalAuth) {
  return createGrpcServer({
    name: "message",
    log: deps.log,
    internalAuth,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    services: [
      implement(MessageService, new MessageServiceImpl(deps), {
        // The notification worker's feed answers for no user: only the notify process may call it.
        onlyFrom: { listRoomHeads: ["notify"], listNewMessages: ["notify"], listThreadFollowers: ["notify"] },
      }),
      implement(FileService, new FileServiceImpl(deps.db, new RoomGate(deps.rooms), deps.files)),
    ],
  });
}
