// build(): the message service as an unstarted gRPC server (tests listen on port 0).
import { createGrpcServer, implement } from "@parley/kit";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import { MessageServiceImpl, type MessageDeps } from "./service.js";

export function build(deps: MessageDeps) {
  return createGrpcServer({ name: "message", log: deps.log, services: [implement(MessageService, new MessageServiceImpl(deps))] });
}
