// Services' ports are not a way in: a process that reaches one but holds no internal
// credential cannot act as a user or call admin RPCs, a service run alone listens on loopback
// unless told otherwise, and probes and reflection keep working without a credential.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { asUser, type Launch, type LaunchedService } from "@parley/kit";
import { accepts, nonLoopbackIPv4, TEST_INTERNAL_SECRET, testDatabase } from "@parley/kit/testing";
import { launch as launchEdge, launchSocket } from "@parley/edge";
import { launch as launchUser } from "@parley/user";
import { RotateSigningKeyRequestSchema, RotateSigningKeyResponseSchema } from "@parley/proto/auth/v1/auth_pb";
import { ListMessagesRequestSchema, ListMessagesResponseSchema } from "@parley/proto/message/v1/message_pb";
import { RoomKind } from "@parley/proto/room/v1/room_pb";
import { uuidv7 } from "uuidv7";
import { startTestParley, type TestParley } from "../src/testing.js";

const run = promisify(execFile);
const bufCurl = (args: string[]) => run("node_modules/.bin/buf", ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args]);

/** One unary call with @grpc/grpc-js and exactly these metadata entries: the status, and the answer when OK. */
function rawCall<I extends DescMessage, O extends DescMessage>(
  address: string,
  path: string,
  input: I,
  output: O,
  request: MessageShape<I>,
  metadata: Record<string, string>,
): Promise<{ code: grpc.status; response?: MessageShape<O> }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const meta = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) meta.set(key, value);
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (message: MessageShape<I>) => Buffer.from(toBinary(input, message)),
      (bytes: Buffer) => fromBinary(output, bytes),
      request,
      meta,
      { deadline: Date.now() + 30_000 },
      (error, response) => {
        client.close();
        resolve(error ? { code: error.code } : { code: grpc.status.OK, response });
      },
    );
  });
}

/** `npm run admin-token`, as an operator runs it, with the services' secret in its environment. */
async function adminTokenFromCommand(secret: string): Promise<string> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "launch/src/admin-token.ts", "--minutes", "5", "--operator", "test"], {
    env: { ...process.env, INTERNAL_AUTH_SECRET: secret },
  });
  return stdout.trim();
}

describe("services trust only callers with the internal credential", () => {
  let parley: TestParley<"auth" | "message">;
  let alice: string;
  let roomId: string;

  beforeAll(async () => {
    parley = await startTestParley({ services: ["auth", "message"] });
    alice = uuidv7();
    await parley.users.createUser({ id: alice, username: `alice_${alice.slice(-8)}`, email: `${alice}@example.com`, displayName: "" });
    roomId = (await parley.rooms.createRoom({ name: "alice's diary", kind: RoomKind.PRIVATE }, asUser(alice))).room!.id;
    await parley.messages.sendMessage({ roomId, body: "my secret" }, asUser(alice));
  });
  afterAll(() => parley?.stop());

  const listMessages = (metadata: Record<string, string>) =>
    rawCall(
      parley.addresses.message,
      "/parley.message.v1.MessageService/ListMessages",
      ListMessagesRequestSchema,
      ListMessagesResponseSchema,
      create(ListMessagesRequestSchema, { roomId }),
      metadata,
    );

  it("a raw gRPC call saying x-user-id of alice, without a credential, is UNAUTHENTICATED and reads nothing", async () => {
    // The control: alice's own client (as the edge calls) reads her history.
    const history = await parley.messages.listMessages({ roomId }, asUser(alice));
    expect(history.messages.map((m) => m.body)).toEqual(["my secret"]);
    const forged = await listMessages({ "x-user-id": alice, "x-session-id": uuidv7() });
    expect(forged).toEqual({ code: grpc.status.UNAUTHENTICATED });
  });

  it("a credential for someone else next to x-user-id of alice acts for that someone (NOT_FOUND), not for alice", async () => {
    const mallory = uuidv7();
    const token = await parley.internalAuth.credential(mallory);
    expect(await listMessages({ authorization: `Bearer ${token}`, "x-user-id": alice })).toEqual({ code: grpc.status.NOT_FOUND });
  });

  it("RotateSigningKey needs an admin credential: refused without one and with a service's, OK with the operator command's token", async () => {
    const rotate = (metadata: Record<string, string>) =>
      rawCall(
        parley.addresses.auth,
        "/parley.auth.v1.AuthService/RotateSigningKey",
        RotateSigningKeyRequestSchema,
        RotateSigningKeyResponseSchema,
        create(RotateSigningKeyRequestSchema, {}),
        metadata,
      );
    const before = (await parley.auth.getJwks({})).keys.map((k) => k.kid);
    expect(await rotate({})).toEqual({ code: grpc.status.UNAUTHENTICATED });
    // What the edge or any service holds is not enough.
    expect(await rotate({ authorization: `Bearer ${await parley.internalAuth.credential(alice)}` })).toEqual({ code: grpc.status.PERMISSION_DENIED });
    expect((await parley.auth.getJwks({})).keys.map((k) => k.kid)).toEqual(before);

    const adminToken = await adminTokenFromCommand(parley.env.INTERNAL_AUTH_SECRET!);
    const rotated = await rotate({ authorization: `Bearer ${adminToken}` });
    expect(rotated.code).toBe(grpc.status.OK);
    expect(before).not.toContain(rotated.response!.kid);
    // And the documented way: buf curl with the header.
    const { stdout } = await bufCurl([
      "-H",
      `authorization: Bearer ${adminToken}`,
      "--data",
      "{}",
      `http://${parley.addresses.auth}/parley.auth.v1.AuthService/RotateSigningKey`,
    ]);
    expect(JSON.parse(stdout).kid).toMatch(/\S/);
  });

  it("an admin token made with another secret is refused", async () => {
    const { code } = await rawCall(
      parley.addresses.auth,
      "/parley.auth.v1.AuthService/RotateSigningKey",
      RotateSigningKeyRequestSchema,
      RotateSigningKeyResponseSchema,
      create(RotateSigningKeyRequestSchema, {}),
      { authorization: `Bearer ${await adminTokenFromCommand("another secret, long enough: 0123456789abcdef")}` },
    );
    expect(code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it("the operator command refuses to run without INTERNAL_AUTH_SECRET, naming it (exit 78)", async () => {
    const error = await adminTokenFromCommand("").catch((e: { code: number; stderr: string }) => e);
    expect(error).toMatchObject({ code: 78, stderr: expect.stringContaining("INTERNAL_AUTH_SECRET") });
  });
});

const outsideAddress = nonLoopbackIPv4();

const portOf = (service: LaunchedService) => Number(service.address.split(":").at(-1));

describe("bind address", () => {
  const database = testDatabase();
  const started: LaunchedService[] = [];
  afterAll(async () => {
    for (const service of started.reverse()) await service.stop();
    await database.drop();
  });

  /** Starts a process the way its main.ts does, with nothing but this environment (no BIND_ADDRESS unless given). */
  async function alone(launch: Launch, env: Record<string, string> = {}) {
    const service = await launch({
      env: {
        INTERNAL_AUTH_SECRET: TEST_INTERNAL_SECRET,
        LOG_LEVEL: "silent",
        DATABASE_URL: database.databaseUrl ?? "",
        WEB_ROOT: "/nonexistent",
        // The Node 22 pass of CI runs the socket tier on the fallback (it only listens here).
        ...(process.env.UWS_ALLOW_FALLBACK && { UWS_ALLOW_FALLBACK: process.env.UWS_ALLOW_FALLBACK }),
        ...env,
      },
      port: 0,
      dataDir: database.dataDir,
    });
    started.push(service);
    return service;
  }

  it("a service, the edge and the socket tier run alone listen on 127.0.0.1 only, and say so", async () => {
    for (const launch of [launchUser, launchEdge, launchSocket]) {
      const service = await alone(launch);
      expect(service.listening, service.name).toBe(`127.0.0.1:${portOf(service)}`);
      expect(await accepts("127.0.0.1", portOf(service)), service.name).toBe(true);
      if (outsideAddress) expect(await accepts(outsideAddress, portOf(service)), `${service.name} on ${outsideAddress}`).toBe(false);
    }
  });

  it("BIND_ADDRESS=0.0.0.0 (the image's) listens on every interface, and says so", async () => {
    const service = await alone(launchUser, { BIND_ADDRESS: "0.0.0.0" });
    expect(service.listening).toBe(`0.0.0.0:${portOf(service)}`);
    // Reached from this machine on loopback.
    expect(service.address).toBe(`127.0.0.1:${portOf(service)}`);
    if (outsideAddress) expect(await accepts(outsideAddress, portOf(service))).toBe(true);
  });

  it("health and reflection answer without a credential", async () => {
    const service = await alone(launchUser);
    const base = `http://${service.address}`;
    const health = await bufCurl(["--data", JSON.stringify({ service: "" }), `${base}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(health.stdout)).toEqual({ status: "SERVING" });
    const listed = await bufCurl(["--list-methods", base]);
    expect(listed.stdout).toContain("parley.user.v1.UserService/GetUser");
  });
});
