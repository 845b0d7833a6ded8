// build(): the room service as an unstarted gRPC server (tests listen on port 0).
import { createGrpcServer, implement } from "@parley/kit";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { RoomServiceImpl, type RoomDeps } from "./service.js";

export function build(deps: RoomDeps) {
  return createGrpcServer({ name: "room", log: deps.log, services: [implement(RoomService, new RoomServiceImpl(deps))] });
}
