// One gRPC server bootstrap for every service: @grpc/grpc-js serving handlers
// typed with protobuf-es, plus grpc.health.v1, server reflection, per-call
// context, logs and the error mapping. Every call must carry a valid internal credential
// (internal-auth.ts); health and reflection, served by their libraries, stay open for probes
// and operators' tools (reflection shows only schemas). Unary, client-streaming and
// server-streaming methods go through the same checks, context, logs and error mapping
// (issue 19: uploads and downloads); bidirectional streams are not served.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import { file_grpc_health_v1_health } from "@parley/proto/grpc/health/v1/health_pb";
import {
  create,
  fromBinary,
  toBinary,
  type DescFile,
  type DescMethod,
  type DescMethodClientStreaming,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { META, runInContext, type CallContext } from "./context.js";
import { fail, toPublicError } from "./errors.js";
import { bearerToken, CREDENTIAL_HEADER, InvalidCredentialError, type InternalAuth, type VerifiedCaller } from "./internal-auth.js";
import type { Logger } from "./logger.js";
import { NUL_RULE, pathOfNul } from "./rules.js";

/**
 * A service implementation: one function per method, typed by the generated descriptor. A unary
 * method answers once; a client-streaming one reads its requests as an async iterable (which
 * throws when the caller cancels) and answers once; a server-streaming one is an async generator
 * of its responses (each yield waits while the caller is not reading: backpressure).
 */
export type ServiceHandlers<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethodUnary<infer I, infer O>
    ? (request: MessageShape<I>, ctx: CallContext) => Promise<MessageInitShape<O>>
    : S["method"][K] extends DescMethodClientStreaming<infer I, infer O>
      ? (requests: AsyncIterable<MessageShape<I>>, ctx: CallContext) => Promise<MessageInitShape<O>>
      : S["method"][K] extends DescMethodServerStreaming<infer I, infer O>
        ? (request: MessageShape<I>, ctx: CallContext) => AsyncIterable<MessageInitShape<O>>
        : never;
};

export interface ServiceRegistration {
  service: DescService;
  handlers: object;
  /** Local names of the methods that need an admin credential. */
  adminOnly: ReadonlySet<string>;
  /** Local names of the methods that only the named processes (or an admin credential) may call. */
  onlyFrom: ReadonlyMap<string, readonly string[]>;
}

export interface ImplementOptions<S extends DescService> {
  /** Operator-only methods: callable only with an admin credential (`npm run admin-token`). */
  adminOnly?: (keyof S["method"] & string)[];
  /** Methods for other services only: callable by the named processes (and with an admin credential). */
  onlyFrom?: Partial<Record<keyof S["method"] & string, string[]>>;
}

/** Pairs a descriptor with its handlers, checking the handler types. */
export function implement<S extends DescService>(service: S, handlers: ServiceHandlers<S>, options: ImplementOptions<S> = {}): ServiceRegistration {
  const onlyFrom = new Map(Object.entries(options.onlyFrom ?? {}).map(([method, callers]) => [method, callers as string[]]));
  return { service, handlers, adminOnly: new Set(options.adminOnly ?? []), onlyFrom };
}

export interface GrpcServer {
  /** Binds `host` (default loopback) and starts serving; resolves to the bound port (use 0 in tests). */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting calls, lets in-flight calls finish within graceMs, then cancels the rest. */
  shutdown(graceMs: number): Promise<void>;
  /** Sets every registered service NOT_SERVING (readiness goes down before shutdown). */
  setServing(serving: boolean): void;
  readonly inFlight: number;
}

export interface GrpcServerOptions {
  name: string;
  services: ServiceRegistration[];
  log: Logger;
  /** Verifies the credential of every call. */
  internalAuth: InternalAuth;
  /** Limits of one message; requests above it fail with RESOURCE_EXHAUSTED. */
  maxMessageBytes?: number;
}

export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const { log, services, internalAuth } = options;
  const maxBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
  const server = new grpc.Server({
    "grpc.max_receive_message_length": maxBytes,
    "grpc.max_send_message_length": maxBytes,
    "grpc.keepalive_permit_without_calls": 1,
  });
  let inFlight = 0;

  for (const { service, handlers, adminOnly, onlyFrom } of services) {
    const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const method of service.methods) {
      if (method.methodKind === "bidi_streaming") throw new Error(`${service.typeName}.${method.name}: bidirectional streams are not served`);
      const handler = (handlers as Record<string, unknown>)[method.localName];
      if (typeof handler !== "function") throw new Error(`${service.typeName}.${method.name} has no handler`);
      definition[method.localName] = {
        path: `/${service.typeName}/${method.name}`,
        requestStream: method.methodKind === "client_streaming",
        responseStream: method.methodKind === "server_streaming",
        requestSerialize: (message) => Buffer.from(toBinary(method.input, message as never)),
        // Decoded in serveCall, so that a bad request (invalid UTF-8, say) gets INVALID_ARGUMENT.
        requestDeserialize: (bytes: Buffer) => bytes,
        responseSerialize: (message) => Buffer.from(toBinary(method.output, message as never)),
        responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
      };
      const guard: Guard = { auth: internalAuth, adminOnly: adminOnly.has(method.localName), onlyFrom: onlyFrom.get(method.localName) };
      implementation[method.localName] = (call: AnyCall, callback?: grpc.sendUnaryData<unknown>) => {
        inFlight++;
        void serveCall(method, (handler as Handler).bind(handlers), guard, call, callback, log).finally(() => inFlight--);
      };
    }
    server.addService(definition as grpc.ServiceDefinition, implementation);
  }

  const health = new HealthImplementation({ "": "SERVING" });
  for (const { service } of services) health.setStatus(service.typeName, "SERVING");
  health.addToServer(server);
  // List only what this server serves (the files also describe services they import, like UserService).
  new ReflectionService(reflectionPackage(services.map((s) => s.service.file)) as never, {
    services: [...services.map((s) => s.service.typeName), "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"],
  }).addToServer(server);

  return {
    get inFlight() {
      return inFlight;
    },
    listen(port, host = "127.0.0.1") {
      return new Promise((resolve, reject) => {
        server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
          if (error) reject(error);
          else resolve(boundPort);
        });
      });
    },
    setServing(serving) {
      const status = serving ? "SERVING" : "NOT_SERVING";
      health.setStatus("", status);
      for (const { service } of services) health.setStatus(service.typeName, status);
    },
    async shutdown(graceMs) {
      this.setServing(false);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          log.warn({ inFlight }, "grace period over: cancelling calls still running");
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

type Handler = (request: unknown, ctx: CallContext) => Promise<object> | AsyncIterable<object>;
type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/** What a method asks of its caller. */
interface Guard {
  auth: InternalAuth;
  adminOnly: boolean;
  /** The processes that may call it, if not every one. */
  onlyFrom?: readonly string[];
}

const NO_CREDENTIAL = "this service answers Parley processes only: send a valid internal credential (authorization: Bearer)";

/** The verified caller of a call, or UNAUTHENTICATED / PERMISSION_DENIED. The reason stays in the server's log. */
async function authenticate(guard: Guard, metadata: grpc.Metadata, log: Logger): Promise<VerifiedCaller> {
  const header = metadata.get(CREDENTIAL_HEADER)[0];
  const token = bearerToken(typeof header === "string" ? header : undefined);
  if (!token) throw fail.unauthenticated(NO_CREDENTIAL);
  let caller: VerifiedCaller;
  try {
    caller = await guard.auth.verify(token);
  } catch (error) {
    if (!(error instanceof InvalidCredentialError)) throw error;
    log.warn({ reason: error.message }, "refused an internal credential");
    throw fail.unauthenticated(NO_CREDENTIAL);
  }
  if (guard.adminOnly && !caller.admin) throw fail.permissionDenied("this method needs an admin credential (npm run admin-token)");
  if (guard.onlyFrom && !caller.admin && !guard.onlyFrom.includes(caller.caller)) {
    throw fail.permissionDenied(`this method is for the ${guard.onlyFrom.join(" and ")} service only`);
  }
  return caller;
}

async function serveCall(
  method: DescMethod,
  handler: Handler,
  guard: Guard,
  call: AnyCall,
  callback: grpc.sendUnaryData<unknown> | undefined,
  baseLog: Logger,
): Promise<void> {
  const started = performance.now();
  const meta = (key: string) => {
    const value = call.metadata.get(key)[0];
    return typeof value === "string" && value !== "" ? value : undefined;
  };
  const requestId = meta(META.requestId) ?? randomUUID();
  const log = baseLog.child({ reqId: requestId });
  const trailers = new grpc.Metadata();
  const abort = new AbortController();
  (call as NodeJS.EventEmitter).on("cancelled", () => abort.abort(new Error("cancelled by the caller")));
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? Number(deadline) : undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;
  if (deadlineMs !== undefined) {
    deadlineTimer = setTimeout(() => abort.abort(new Error(DEADLINE_EXCEEDED)), Math.max(0, deadlineMs - Date.now()));
    deadlineTimer.unref();
  }
  const ctx: CallContext = {
    requestId,
    caller: "",
    admin: false,
    clientAddress: meta(META.clientAddress),
    userAgent: meta(META.userAgent),
    deadline: deadlineMs,
    signal: abort.signal,
    log,
    setTrailer: (key, value) => trailers.set(key, value),
  };
  const methodName = `${method.parent.typeName}/${method.name}`;
  try {
    // Before the request is even decoded: an unknown caller learns nothing, not even parse errors.
    const verified = await authenticate(guard, call.metadata, log);
    ctx.caller = verified.caller;
    ctx.admin = verified.admin;
    ctx.userId = verified.userId;
    ctx.sessionId = verified.sessionId;
    switch (method.methodKind) {
      case "unary": {
        const request = decodeRequest(method, (call as grpc.ServerUnaryCall<unknown, unknown>).request as Buffer);
        const init = await runInContext(ctx, () => handler(request, ctx) as Promise<object>);
        const response = create(method.output, init as never);
        logCall(log, methodName, ctx, started);
        callback!(null, response, trailers);
        break;
      }
      case "client_streaming": {
        const requests = decodeRequests(method, call as grpc.ServerReadableStream<unknown, unknown>);
        const init = await runInContext(ctx, () => handler(requests, ctx) as Promise<object>);
        const response = create(method.output, init as never);
        logCall(log, methodName, ctx, started);
        callback!(null, response, trailers);
        break;
      }
      case "server_streaming": {
        const writable = call as grpc.ServerWritableStream<unknown, unknown>;
        const request = decodeRequest(method, writable.request as Buffer);
        const responses = runInContext(ctx, () => handler(request, ctx) as AsyncIterable<object>);
        await runInContext(ctx, async () => {
          for await (const init of responses) {
            if (abort.signal.aborted) break;
            // write() says false once its buffer is full: wait until the caller has read it (or gone).
            if (!writable.write(create(method.output, init as never))) await drained(writable, abort.signal);
          }
        });
        if (abort.signal.aborted) throw abort.signal.reason;
        logCall(log, methodName, ctx, started);
        writable.end(trailers);
        break;
      }
      default:
        throw new Error(`${methodName}: ${method.methodKind} is not served`);
    }
  } catch (error) {
    const pub = toPublicError(error);
    for (const [key, value] of Object.entries(pub.trailers)) trailers.set(key, value);
    // What a handler throws because its call was cancelled or outlived its deadline (a request
    // stream cut short, an aborted read) is that, not an internal error.
    const ended = pub.internal && abort.signal.aborted ? endedBy(abort.signal) : undefined;
    const code = ended?.code ?? (pub.code as number as grpc.status);
    const details = ended?.details ?? pub.message;
    const entry = { method: methodName, caller: ctx.caller || undefined, code: grpc.status[code] ?? code, ms: round(performance.now() - started) };
    if (pub.internal && !ended) log.error({ ...entry, err: error }, "call failed");
    else log.info({ ...entry, reason: details }, "call");
    const status = { code, details, metadata: trailers };
    if (callback) callback(status);
    else (call as grpc.ServerWritableStream<unknown, unknown>).emit("error", status);
  } finally {
    if (deadlineTimer) clearTimeout(deadlineTimer);
  }
}

const DEADLINE_EXCEEDED = "deadline exceeded";

function endedBy(signal: AbortSignal): { code: grpc.status; details: string } {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return { code: reason === DEADLINE_EXCEEDED ? grpc.status.DEADLINE_EXCEEDED : grpc.status.CANCELLED, details: reason };
}

function logCall(log: Logger, method: string, ctx: CallContext, started: number): void {
  log.info({ method, caller: ctx.caller, code: "OK", ms: round(performance.now() - started) }, "call");
}

/** One request message, decoded and checked (INVALID_ARGUMENT for bytes that are not one, or a NUL in a string). */
function decodeRequest(method: DescMethod, bytes: Buffer): unknown {
  let request: unknown;
  try {
    request = fromBinary(method.input, bytes);
  } catch {
    throw fail.invalidArgument("request", "not a valid protobuf message (strings must be valid UTF-8)");
  }
  const nulAt = pathOfNul(request);
  if (nulAt !== undefined) throw fail.invalidArgument(nulAt || "request", NUL_RULE);
  return request;
}

/**
 * The requests of a client stream, each decoded as it is read. Reading pulls from the call (the
 * HTTP/2 window fills while the handler does not read: backpressure); a cancelled call throws.
 */
async function* decodeRequests(method: DescMethod, call: grpc.ServerReadableStream<unknown, unknown>): AsyncGenerator<unknown> {
  for await (const bytes of call) yield decodeRequest(method, bytes as Buffer);
  if (call.cancelled) throw new Error("cancelled by the caller");
}

/** Resolves once `stream` drains; rejects when the call is cancelled or its deadline passes first. */
async function drained(stream: NodeJS.EventEmitter, signal: AbortSignal): Promise<void> {
  try {
    await once(stream, "drain", { signal });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw error;
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** The shape @grpc/reflection reads: serialized FileDescriptorProtos of every file and its imports. */
function reflectionPackage(files: DescFile[]): Record<string, { fileDescriptorProtos: Buffer[] }> {
  const seen = new Map<string, Buffer>();
  const visit = (file: DescFile) => {
    if (seen.has(file.name)) return;
    for (const dep of file.dependencies) visit(dep);
    seen.set(file.name, Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto)));
  };
  // grpc.health.v1 is served by grpc-health-check; its schema comes from the vendored health.proto.
  [...files, file_grpc_health_v1_health].forEach(visit);
  return { parley: { fileDescriptorProtos: [...seen.values()] } };
}
