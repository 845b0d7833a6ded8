// Baseline: a bare @grpc/grpc-js server (no kit) with one hand-made unary
// method that returns the request bytes as they came (no protobuf, no context, no logs).
import * as grpc from "@grpc/grpc-js";
import { serveBenchTarget } from "../lib/target-process.js";

/** Not a Parley contract: a path of its own so nothing mistakes it for one. */
const ECHO_PATH = "/parley.bench.Echo/Echo";

const bytes = (value: Buffer) => value;

await serveBenchTarget(async () => {
  const server = new grpc.Server();
  const echo: grpc.MethodDefinition<Buffer, Buffer> = {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: bytes,
    requestDeserialize: bytes,
    responseSerialize: bytes,
    responseDeserialize: bytes,
  };
  server.addService({ echo } as grpc.ServiceDefinition, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    address: `127.0.0.1:${port}`,
    info: { path: ECHO_PATH },
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
});
