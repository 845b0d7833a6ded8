// build(): the message service as an unstarted gRPC server (tests listen on port 0).
import { createGrpcServer, implement, type InternalAuth } from "@parley/kit";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import { MessageServiceImpl, type MessageDeps } from "./service.js";

export function build(deps: MessageDeps, internalAuth: InternalAuth) {
  return createGrpcServer({
    name: "message",
    log: deps.log,
    internalAuth,
    services: [
      implement(MessageService, new MessageServiceImpl(deps), {
        // The notification worker's feed answers for no user: only the notify process may call it.
        onlyFrom: { listRoomHeads: ["notify"], listNewMessages: ["notify"], listThreadFollowers: ["notify"] },
      }),
    ],
  });
}
