// The kit alone: createGrpcServer + implement(UserService) whose GetUser
// returns a fixed profile without touching a database. Between the bare
// grpc-js echo and the real user service, it tells the kit's cost from the service's.
import { createGrpcServer, createLogger, fail, implement, InternalAuth, toTimestamp, type ServiceHandlers } from "@parley/kit";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { serveBenchTarget } from "../lib/target-process.js";

await serveBenchTarget(async () => {
  const log = createLogger("bench-canned", process.env.LOG_LEVEL);
  const now = toTimestamp(new Date());
  const profile = (id: string) => ({
    id,
    username: "bench_user_00",
    displayName: "bench_user_00",
    avatarUrl: "",
    statusText: "",
    createTime: now,
    updateTime: now,
  });
  const unused = async (): Promise<never> => {
    throw fail.invalidArgument("method", "not served by this benchmark server");
  };
  const handlers: ServiceHandlers<typeof UserService> = {
    getUser: async (request) => ({ user: profile(request.id) }),
    createUser: unused,
    deleteUser: unused,
    batchGetUsers: unused,
    updateUser: unused,
    searchUsers: unused,
    resolveLogin: unused,
  };
  const server = createGrpcServer({ name: "bench-canned", log, internalAuth: new InternalAuth(process.env.INTERNAL_AUTH_SECRET!, "bench-canned"), services: [implement(UserService, handlers)] });
  const port = await server.listen(0, "127.0.0.1");
  return { address: `127.0.0.1:${port}`, stop: () => server.shutdown(1_000) };
});
