// One gRPC server bootstrap for every service: @grpc/grpc-js serving handlers
// typed with protobuf-es, plus grpc.health.v1, server reflection, per-call
// context, logs and the error mapping. Every call must carry a valid internal credential
// (internal-auth.ts); health and reflection, served by their libraries, stay open for probes
// and operators' tools (reflection shows only schemas).
import { randomUUID } from "node:crypto";
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

/** A service implementation: one async function per method, typed by the generated descriptor. */
export type ServiceHandlers<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethodUnary<infer I, infer O>
    ? (request: MessageShape<I>, ctx: CallContext) => Promise<MessageInitShape<O>>
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
      if (method.methodKind !== "unary") throw new Error(`${service.typeName}.${method.name}: only unary methods are served`);
      const handler = (handlers as Record<string, unknown>)[method.localName];
      if (typeof handler !== "function") throw new Error(`${service.typeName}.${method.name} has no handler`);
      definition[method.localName] = {
        path: `/${service.typeName}/${method.name}`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (message) => Buffer.from(toBinary(method.input, message as never)),
        // Decoded in serveUnary, so that a bad request (invalid UTF-8, say) gets INVALID_ARGUMENT.
        requestDeserialize: (bytes: Buffer) => bytes,
        responseSerialize: (message) => Buffer.from(toBinary(method.output, message as never)),
        responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
      };
      const guard: Guard = { auth: internalAuth, adminOnly: adminOnly.has(method.localName), onlyFrom: onlyFrom.get(method.localName) };
      implementation[method.localName] = (
        call: grpc.ServerUnaryCall<unknown, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        inFlight++;
        void serveUnary(method, (handler as Handler).bind(handlers), guard, call, callback, log).finally(() => inFlight--);
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

type Handler = (request: unknown, ctx: CallContext) => Promise<object>;

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

async function serveUnary(
  method: DescMethod,
  handler: Handler,
  guard: Guard,
  call: grpc.ServerUnaryCall<unknown, unknown>,
  callback: grpc.sendUnaryData<unknown>,
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
  call.on("cancelled", () => abort.abort(new Error("cancelled by the caller")));
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? Number(deadline) : undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;
  if (deadlineMs !== undefined) {
    deadlineTimer = setTimeout(() => abort.abort(new Error("deadline exceeded")), Math.max(0, deadlineMs - Date.now()));
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
    let request: unknown;
    try {
      request = fromBinary(method.input, call.request as Buffer);
    } catch {
      throw fail.invalidArgument("request", "not a valid protobuf message (strings must be valid UTF-8)");
    }
    const nulAt = pathOfNul(request);
    if (nulAt !== undefined) throw fail.invalidArgument(nulAt || "request", NUL_RULE);
    const init = await runInContext(ctx, () => handler(request, ctx));
    const response = create(method.output, init as never);
    log.info({ method: methodName, caller: ctx.caller, code: "OK", ms: round(performance.now() - started) }, "call");
    callback(null, response, trailers);
  } catch (error) {
    const pub = toPublicError(error);
    for (const [key, value] of Object.entries(pub.trailers)) trailers.set(key, value);
    const entry = { method: methodName, caller: ctx.caller || undefined, code: grpc.status[pub.code] ?? pub.code, ms: round(performance.now() - started) };
    if (pub.internal) log.error({ ...entry, err: error }, "call failed");
    else log.info({ ...entry, reason: pub.message }, "call");
    callback({ code: pub.code as number as grpc.status, details: pub.message, metadata: trailers });
  } finally {
    if (deadlineTimer) clearTimeout(deadlineTimer);
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
