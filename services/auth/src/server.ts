// build(): the auth service as an unstarted gRPC server (tests listen on port 0).
import { createGrpcServer, implement, type InternalAuth } from "@parley/kit";
import { AuthService } from "@parley/proto/auth/v1/auth_pb";
import { AuthServiceImpl, type AuthDeps } from "./service.js";

export function build(deps: AuthDeps, internalAuth: InternalAuth) {
  return createGrpcServer({
    name: "auth",
    log: deps.log,
    internalAuth,
    services: [implement(AuthService, new AuthServiceImpl(deps), { adminOnly: ["rotateSigningKey"] })],
  });
}
