// build(): the user service as an unstarted gRPC server (tests listen on port 0).
import { createGrpcServer, implement, type InternalAuth, type Logger } from "@parley/kit";
import { UserService } from "@parley/proto/user/v1/user_pb";
import type { UserDb } from "./db.js";
import { UserServiceImpl } from "./service.js";

export interface UserServerDeps {
  db: UserDb;
  log: Logger;
}

export function build({ db, log }: UserServerDeps, internalAuth: InternalAuth) {
  return createGrpcServer({ name: "user", log, internalAuth, services: [implement(UserService, new UserServiceImpl(db))] });
}
