// The room and message services in their own processes on PostgreSQL (and Redis
// for their events), as the distributed mode runs them: what the message
// scenarios measure. Also a plain grpc-js client that sends pre-encoded requests.
import { createServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { databaseUrl } from "./postgres.js";
import { benchInternalAuth, startTargetProcess, type TargetProcess } from "./target-process.js";

export const REDIS_URL = process.env.PARLEY_BENCH_REDIS_URL || "redis://127.0.0.1:6379";

export interface RoomAndMessage {
  room: TargetProcess;
  message: TargetProcess;
  /** `<base>_room`, `<base>_message`: the services' databases. */
  roomDatabase: string;
  messageDatabase: string;
}

/**
 * Starts the room service and the message service calling it, each in its own process (both at
 * once: the room service's port is chosen first), on databases `<base>_room` and `<base>_message`
 * (created by the services, with their migrations). `started` receives each process as soon as
 * it runs, so that the caller can stop it whatever happens next.
 */
export async function startRoomAndMessage(options: {
  base: string;
  logLevel: string;
  cpus?: string;
  started: (server: TargetProcess) => void;
}): Promise<RoomAndMessage> {
  const env = {
    DATABASE_URL: databaseUrl(options.base),
    REDIS_URL,
    // Its own keys and channels: nothing else on this Redis hears the bench's events.
    REDIS_PREFIX: `parley_bench_${process.pid}:`,
    LOG_LEVEL: options.logLevel,
  };
  const roomPort = await freePort();
  const start = (name: string, serviceEnv: Record<string, string>) =>
    startTargetProcess({
      name,
      module: new URL("../servers/parley-service.ts", import.meta.url),
      env: { ...env, ...serviceEnv },
      cpus: options.cpus,
      startTimeoutMs: 120_000,
    }).then((server) => (options.started(server), server));
  const [room, message] = await Promise.all([
    // The room service calls only the user service (profiles), which nothing here asks for.
    start("room service", { BENCH_SERVICE: "room", BENCH_PORT: String(roomPort), USER_SERVICE_ADDR: "127.0.0.1:9" }),
    // Its client connects on the first call.
    start("message service", { BENCH_SERVICE: "message", ROOM_SERVICE_ADDR: `127.0.0.1:${roomPort}` }),
  ]);
  return { room, message, roomDatabase: `${options.base}_room`, messageDatabase: `${options.base}_message` };
}

/** A port of 127.0.0.1 that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A plain @grpc/grpc-js client (one HTTP/2 connection) sending ready-made request bytes. */
export class BytesClient {
  private readonly client: grpc.Client;

  constructor(address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }

  /** One unary call; resolves with the response bytes, rejects on any gRPC error. */
  call(path: string, request: Buffer, metadata: grpc.Metadata, deadlineMs: number): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.client.makeUnaryRequest(path, bytes, bytes, request, metadata, { deadline: Date.now() + deadlineMs }, (error, value) =>
        error || !value ? reject(error ?? new Error("no response")) : resolve(value),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

const bytes = (value: Buffer) => value;

/** What the edge sends for a signed-in user: its internal credential for that user, renewed before it expires. */
export async function userMetadata(userId?: string): Promise<grpc.Metadata> {
  const metadata = new grpc.Metadata();
  const renew = async () => void metadata.set("authorization", `Bearer ${await benchInternalAuth.credential(userId)}`);
  await renew();
  setInterval(() => void renew(), 15_000).unref();
  return metadata;
}
