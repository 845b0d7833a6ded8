// build(): the auth service as an unstarted gRPC server (tests listen on port 0).
import { createGrpcServer, implement } from "@parley/kit";
import { AuthService } from "@parley/proto/auth/v1/auth_pb";
import { AuthServiceImpl, type AuthDeps } from "./service.js";

export function build(deps: AuthDeps) {
  return createGrpcServer({ name: "auth", log: deps.log, services: [implement(AuthService, new AuthServiceImpl(deps))] });
}
