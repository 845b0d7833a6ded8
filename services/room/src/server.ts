// build(): the room service as an unstarted gRPC server (tests listen on port 0).
import { createGrpcServer, implement, type InternalAuth } from "@parley/kit";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { RoomServiceImpl, type RoomDeps } from "./service.js";

export function build(deps: RoomDeps, internalAuth: InternalAuth) {
  return createGrpcServer({
    name: "room",
    log: deps.log,
    internalAuth,
    services: [implement(RoomService, new RoomServiceImpl(deps), { onlyFrom: { moveReadMarker: ["message"] } })],
  });
}
