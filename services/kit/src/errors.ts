// The one mapping from what goes wrong in a service to a gRPC status.
// Services throw ConnectError(message, Code.X) (or the helpers below); anything
// else becomes INTERNAL with a generic message, and its details go to the log only.
import { Code, ConnectError } from "@connectrpc/connect";
import { ConnectionException, NotFoundError, UniqueConstraintViolationException } from "@mikro-orm/core";

export { Code, ConnectError };

/** Trailer naming the request field an INVALID_ARGUMENT or ALREADY_EXISTS is about. */
export const FIELD_TRAILER = "parley-field";
/** Trailer telling a rate-limited caller when to try again. */
export const RETRY_AFTER_TRAILER = "retry-after-seconds";
/** Trailer of a RESOURCE_EXHAUSTED that is a size limit, not a rate ("file-size", "quota"): the edge answers 413. */
export const LIMIT_TRAILER = "x-parley-limit";
export type SizeLimit = "file-size" | "quota";

function withTrailers(message: string, code: Code, trailers: Record<string, string>): ConnectError {
  return new ConnectError(message, code, new Headers(trailers));
}

export const fail = {
  invalidArgument: (field: string, rule: string) =>
    withTrailers(`${field}: ${rule}`, Code.InvalidArgument, { [FIELD_TRAILER]: field }),
  alreadyExists: (field: string, message: string) =>
    withTrailers(message, Code.AlreadyExists, { [FIELD_TRAILER]: field }),
  notFound: (message: string) => new ConnectError(message, Code.NotFound),
  permissionDenied: (message: string) => new ConnectError(message, Code.PermissionDenied),
  unauthenticated: (message: string) => new ConnectError(message, Code.Unauthenticated),
  failedPrecondition: (message: string) => new ConnectError(message, Code.FailedPrecondition),
  outOfRange: (message: string) => new ConnectError(message, Code.OutOfRange),
  resourceExhausted: (message: string, retryAfterSeconds: number) =>
    withTrailers(message, Code.ResourceExhausted, { [RETRY_AFTER_TRAILER]: String(Math.max(1, Math.ceil(retryAfterSeconds))) }),
  unavailable: (message: string) => new ConnectError(message, Code.Unavailable),
  tooLarge: (message: string, limit: SizeLimit) => withTrailers(message, Code.ResourceExhausted, { [LIMIT_TRAILER]: limit }),
};

export interface PublicError {
  code: Code;
  /** Safe to show to the caller. */
  message: string;
  trailers: Record<string, string>;
  /** True when the error is a bug or an outage rather than the caller's mistake: log it loudly. */
  internal: boolean;
}

// Codes that mean "not the caller's fault": their messages may name hosts or
// internals (a downstream ECONNREFUSED, say), so callers get a generic text.
const GENERIC_MESSAGES: Partial<Record<Code, string>> = {
  [Code.Internal]: "internal error",
  [Code.Unknown]: "internal error",
  [Code.DataLoss]: "internal error",
  [Code.Unavailable]: "service unavailable",
  [Code.Aborted]: "service unavailable",
  [Code.DeadlineExceeded]: "deadline exceeded",
  [Code.Canceled]: "cancelled",
};

/** Turns anything thrown by a handler into what the caller may see. */
export function toPublicError(error: unknown): PublicError {
  if (error instanceof ConnectError) {
    // Only our own trailers travel on: an error from a downstream call also carries its transport headers.
    const trailers: Record<string, string> = {};
    for (const key of [FIELD_TRAILER, RETRY_AFTER_TRAILER, LIMIT_TRAILER]) {
      const value = error.metadata.get(key);
      if (value !== null) trailers[key] = value;
    }
    const generic = GENERIC_MESSAGES[error.code];
    // ABORTED reaches a handler only from a downstream call whose stream died (connect-node's
    // name for ECONNRESET): pass it on as what it is, an outage, never as a conflict.
    const code = error.code === Code.Aborted ? Code.Unavailable : error.code;
    return { code, message: generic ?? error.rawMessage, trailers, internal: generic !== undefined };
  }
  if (error instanceof NotFoundError) {
    return { code: Code.NotFound, message: "not found", trailers: {}, internal: false };
  }
  if (error instanceof UniqueConstraintViolationException) {
    return { code: Code.AlreadyExists, message: "already exists", trailers: {}, internal: false };
  }
  if (error instanceof ConnectionException || isConnectionFailure(error)) {
    return { code: Code.Unavailable, message: "service unavailable", trailers: {}, internal: true };
  }
  return { code: Code.Internal, message: "internal error", trailers: {}, internal: true };
}

function isConnectionFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "ECONNREFUSED" || code === "ECONNRESET" || code === "57P01";
}
