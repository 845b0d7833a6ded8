import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { UserService } from "@parley/proto/user/v1/user_pb";
import {
  createGrpcServer,
  createLogger,
  createServiceClient,
  currentContext,
  fail,
  implement,
  type CallContext,
  type GrpcServer,
} from "../src/index.js";
import { testInternalAuth } from "../src/testing.js";

const run = promisify(execFile);
/** buf curl: a standard gRPC client that learns the schema through server reflection. */
const bufCurl = (args: string[]) => run("node_modules/.bin/buf", ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args]);
const log = createLogger("test", "silent");
const uuid = "0190b1f0-0000-7000-8000-000000000001";
const internalAuth = testInternalAuth();

// Two servers: "front" calls "back" from inside a handler, so propagation can be observed.
let front: GrpcServer;
let back: GrpcServer;
let frontAddress: string;
const seenByBack: CallContext[] = [];

function profile(id: string) {
  return { id, username: "someone", displayName: "Someone" };
}

beforeAll(async () => {
  back = createGrpcServer({
    name: "back",
    log,
    internalAuth,
    services: [
      implement(UserService, {
        async getUser(request, ctx) {
          seenByBack.push(ctx);
          if (request.id === "boom") throw new Error("SELECT secret FROM table failed at /srv/app.ts:12");
          if (request.id === "slow") await new Promise((r) => setTimeout(r, 300));
          return { user: profile(request.id) };
        },
        async createUser() {
          throw fail.invalidArgument("username", "3-32 letters");
        },
        async deleteUser() {
          return {};
        },
        async batchGetUsers() {
          return { users: [] };
        },
        async updateUser() {
          throw fail.resourceExhausted("slow down", 7.2);
        },
        async searchUsers() {
          return { users: [], nextPageToken: "" };
        },
        async resolveLogin() {
          throw fail.notFound("no such account");
        },
      }),
    ],
  });
  const backAddress = `127.0.0.1:${await back.listen(0, "127.0.0.1")}`;
  const backClient = createServiceClient(UserService, backAddress, { internalAuth });
  front = createGrpcServer({
    name: "front",
    log,
    internalAuth,
    services: [
      implement(UserService, {
        async getUser(request) {
          // Calls the back server from inside a handler.
          return backClient.getUser({ id: request.id });
        },
        async createUser() {
          return backClient.createUser({});
        },
        async deleteUser() {
          return {};
        },
        async batchGetUsers() {
          return { users: [] };
        },
        async updateUser() {
          return backClient.updateUser({});
        },
        async searchUsers() {
          return { users: [], nextPageToken: "" };
        },
        async resolveLogin() {
          return { userId: currentContext()?.requestId ?? "" };
        },
      }),
    ],
  });
  frontAddress = `127.0.0.1:${await front.listen(0, "127.0.0.1")}`;
});

afterAll(async () => {
  await front.shutdown(1000);
  await back.shutdown(1000);
});

describe("gRPC server and clients", () => {
  it("serves protobuf-es typed handlers to a Connect client", async () => {
    const client = createServiceClient(UserService, frontAddress, { internalAuth });
    const { user } = await client.getUser({ id: uuid });
    expect(user?.id).toBe(uuid);
    expect(user?.username).toBe("someone");
  });

  it("propagates the request id and the remaining deadline to downstream calls", async () => {
    seenByBack.length = 0;
    const client = createServiceClient(UserService, frontAddress, { internalAuth });
    await client.getUser({ id: uuid }, { headers: { "x-request-id": "req-42" }, timeoutMs: 1500 });
    const downstream = seenByBack.at(-1)!;
    expect(downstream.requestId).toBe("req-42");
    expect(downstream.deadline).toBeDefined();
    // The downstream deadline is the caller's (1.5 s), not the 5 s default.
    expect(downstream.deadline! - Date.now()).toBeLessThanOrEqual(1500);
  });

  it("fails a downstream call with DEADLINE_EXCEEDED when the caller's deadline is shorter than the work", async () => {
    const client = createServiceClient(UserService, frontAddress, { internalAuth });
    const error = await client.getUser({ id: "slow" }, { timeoutMs: 100 }).catch((e) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.DeadlineExceeded);
  });

  it("generates a request id when the caller sends none", async () => {
    const client = createServiceClient(UserService, frontAddress, { internalAuth });
    const { userId } = await client.resolveLogin({ login: "x" });
    expect(userId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("maps unexpected errors to INTERNAL without leaking internals", async () => {
    const client = createServiceClient(UserService, frontAddress, { internalAuth });
    const error = ConnectError.from(await client.getUser({ id: "boom" }).catch((e) => e));
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("internal error");
    expect(JSON.stringify(error)).not.toMatch(/SELECT|secret|app\.ts/);
  });

  it("passes a domain error and its field through a chain of services", async () => {
    const client = createServiceClient(UserService, frontAddress, { internalAuth });
    const error = ConnectError.from(await client.createUser({}).catch((e) => e));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe("username: 3-32 letters");
    expect(error.metadata.get("parley-field")).toBe("username");
    const limited = ConnectError.from(await client.updateUser({}).catch((e) => e));
    expect(limited.code).toBe(Code.ResourceExhausted);
    expect(limited.metadata.get("retry-after-seconds")).toBe("8");
  });

  it("answers grpc.health.v1 with SERVING, for the server and for each service", async () => {
    for (const service of ["", "parley.user.v1.UserService"]) {
      const { stdout } = await bufCurl(["--data", JSON.stringify({ service }), `http://${frontAddress}/grpc.health.v1.Health/Check`]);
      expect(JSON.parse(stdout)).toEqual({ status: "SERVING" });
    }
  });

  it("lists and calls services through reflection with a standard client (buf curl)", async () => {
    const base = `http://${frontAddress}`;
    const list = await bufCurl(["--list-methods", base]);
    expect(list.stdout).toContain("parley.user.v1.UserService/GetUser");
    expect(list.stdout).toContain("grpc.health.v1.Health/Check");
    const credential = `authorization: Bearer ${await internalAuth.adminToken(5, "test")}`;
    const call = await bufCurl(["-H", credential, "--data", JSON.stringify({ id: uuid }), `${base}/parley.user.v1.UserService/GetUser`]);
    expect(JSON.parse(call.stdout).user.id).toBe(uuid);
  });
});

describe("bad requests", () => {
  it("answers a request with invalid UTF-8 in a string with INVALID_ARGUMENT, and goes on serving", async () => {
    const { connect } = await import("node:http2");
    const session = connect(`http://${frontAddress}`);
    // GetUserRequest{id: 0xff 0xfe} framed as a gRPC message.
    const body = Buffer.from([0x0a, 0x02, 0xff, 0xfe]);
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
    const stream = session.request({
      ":method": "POST",
      ":path": "/parley.user.v1.UserService/GetUser",
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${await internalAuth.credential()}`,
    });
    const trailers = await new Promise<Record<string, unknown>>((resolve) => {
      stream.on("trailers", resolve);
      stream.on("response", (headers) => {
        if (headers["grpc-status"]) resolve(headers);
      });
      stream.resume();
      stream.end(frame);
    });
    session.close();
    expect(trailers["grpc-status"]).toBe("3");
    expect(decodeURIComponent(String(trailers["grpc-message"]))).toMatch(/UTF-8/);
    const client = createServiceClient(UserService, frontAddress, { internalAuth });
    await expect(client.getUser({ id: uuid })).resolves.toBeDefined();
  });
});

describe("reflection", () => {
  it("lists only the services this server serves, not those its files import", async () => {
    const { RoomService } = await import("@parley/proto/room/v1/room_pb");
    const anyHandler = new Proxy({}, { get: () => async () => ({}) });
    const server = createGrpcServer({ name: "rooms-only", log, internalAuth, services: [implement(RoomService, anyHandler as never)] });
    const address = `127.0.0.1:${await server.listen(0, "127.0.0.1")}`;
    try {
      const { stdout } = await bufCurl(["--list-services", `http://${address}`]);
      const listed = stdout.trim().split("\n").sort();
      expect(listed).toContain("parley.room.v1.RoomService");
      expect(listed).toContain("grpc.health.v1.Health");
      expect(listed).not.toContain("parley.user.v1.UserService");
    } finally {
      await server.shutdown(1000);
    }
  });
});
