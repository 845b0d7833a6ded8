// Typed clients for other Parley services over Connect's gRPC transport, with a
// default deadline, propagation of the caller's request id and deadline, and the signed
// internal credential that proves the call comes from a Parley process.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { DescService } from "@bufbuild/protobuf";
import { META, currentContext } from "./context.js";
import { internalCredentialInterceptor, type InternalAuth } from "./internal-auth.js";

export interface ClientOptions {
  /** Signs every call as this process (services refuse calls without it). */
  internalAuth: InternalAuth;
  /** Deadline of a call made outside any incoming call (and the ceiling inside one). */
  defaultTimeoutMs?: number;
  /** The same for streaming methods (an upload or a download of 50 MB takes longer than a unary call). */
  streamTimeoutMs?: number;
  /** Extra interceptors (tests, metrics). */
  interceptors?: Interceptor[];
}

export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_STREAM_TIMEOUT_MS = 10 * 60_000;

/** Within a handler: carries the request id on and never outlives the incoming deadline. */
const propagateContext: Interceptor = (next) => async (request) => {
  const ctx = currentContext();
  if (ctx && !request.header.has(META.requestId)) request.header.set(META.requestId, ctx.requestId);
  return next(request);
};


/**
 * A client for `service` at `address` (host:port). Each call gets
 * min(defaultTimeoutMs, time left of the incoming call) unless it sets its own timeoutMs (streaming
 * methods: streamTimeoutMs). A client-streaming method takes an async iterable of requests and
 * pulls the next one only when the HTTP/2 stream can take it; a server-streaming one returns an
 * async iterable of responses that reads from the network only as fast as it is consumed.
 */
export function createServiceClient<S extends DescService>(
  service: S,
  address: string,
  options: ClientOptions,
): Client<S> {
  const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const streamTimeoutMs = options.streamTimeoutMs ?? DEFAULT_STREAM_TIMEOUT_MS;
  const transport = createGrpcTransport({
    baseUrl: `http://${address}`,
    // The credential last: it consumes the intent headers that the interceptors before it may set.
    interceptors: [propagateContext, ...(options.interceptors ?? []), internalCredentialInterceptor(options.internalAuth)],
    pingIntervalMs: 30_000,
  });
  const raw = createClient(service, transport) as Record<string, (req: unknown, opts?: CallOptionsLike) => unknown>;
  const wrapped: Record<string, unknown> = {};
  for (const method of service.methods) {
    const call = raw[method.localName]!;
    const timeoutMs = method.methodKind === "unary" ? defaultTimeoutMs : streamTimeoutMs;
    wrapped[method.localName] = (request: unknown, callOptions: CallOptionsLike = {}) =>
      call(request, { ...callOptions, timeoutMs: callOptions.timeoutMs ?? timeoutFor(timeoutMs) });
  }
  return wrapped as Client<S>;
}

interface CallOptionsLike {
  timeoutMs?: number;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

function timeoutFor(defaultTimeoutMs: number): number {
  const deadline = currentContext()?.deadline;
  if (deadline === undefined) return defaultTimeoutMs;
  // At least 1 ms: a spent deadline fails fast with DEADLINE_EXCEEDED instead of meaning "no deadline".
  return Math.max(1, Math.min(defaultTimeoutMs, deadline - Date.now()));
}

/** Headers that make a call on behalf of a signed-in user: the client signs them into its internal credential. */
export function asUser(userId: string): { headers: Record<string, string> } {
  return { headers: { [META.userId]: userId } };
}
