// build(): the notify service as an unstarted gRPC server (tests listen on port 0).
import { createGrpcServer, implement, type InternalAuth } from "@parley/kit";
import { NotificationService } from "@parley/proto/notify/v1/notify_pb";
import { NotificationServiceImpl, type NotifyApiDeps } from "./service.js";

export function build(deps: NotifyApiDeps, internalAuth: InternalAuth) {
  return createGrpcServer({
    name: "notify",
    log: deps.log,
    internalAuth,
    services: [
      implement(NotificationService, new NotificationServiceImpl(deps), {
        // Operators only: a new key pair for every future subscription.
        adminOnly: ["rotateVapidKeys"],
        // Anyone holding an email's link reaches it through the edge (no signed-in user).
        onlyFrom: { unsubscribe: ["edge"] },
      }),
    ],
  });
}
