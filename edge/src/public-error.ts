// The edge's one mapping from what went wrong (a service's gRPC status, a failed connection,
// anything thrown) to what a client sees: the public code (a gRPC code name on the socket, a tRPC
// code and its HTTP status over tRPC and REST), a message safe to show, the field it is about and
// when to retry. tRPC and REST (api/errors.ts) and the socket tier's error frames use it.
// The services' own mapping, from their exceptions to gRPC statuses, is kit's errors.ts.
import { Code, ConnectError } from "@connectrpc/connect";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { isRetryable } from "@parley/client/protocol";
import { FIELD_TRAILER, LIMIT_TRAILER, RETRY_AFTER_TRAILER, type SizeLimit } from "@parley/kit";

export type TRPCCode = ConstructorParameters<typeof TRPCError>[0]["code"];

/** Whose doing an error is: the caller's (passed on as it is), an outage (retry), or a bug (logged). */
export type Severity = "caller" | "outage" | "bug";

interface Row {
  /** The gRPC code name: what socket Error frames carry. */
  name: string;
  trpc: TRPCCode;
  severity: Severity;
}

const caller = (name: string, trpc: TRPCCode): Row => ({ name, trpc, severity: "caller" });
/** The service is away, restarting or too slow: the socket says UNAVAILABLE, whatever the cause. */
const outage = (trpc: TRPCCode): Row => ({ name: "UNAVAILABLE", trpc, severity: "outage" });
const BUG: Row = { name: "INTERNAL", trpc: "INTERNAL_SERVER_ERROR", severity: "bug" };
/**
 * RESOURCE_EXHAUSTED with the x-parley-limit trailer (kit fail.tooLarge) is a size limit, not a
 * rate: 413, and sending the same again will not help. Without the trailer it stays 429.
 */
const TOO_LARGE: Row = caller("RESOURCE_EXHAUSTED", "PAYLOAD_TOO_LARGE");
const SIZE_LIMITS: ReadonlySet<string> = new Set<SizeLimit>(["file-size", "quota"]);

const BY_GRPC_CODE: Record<Code, Row> = {
  [Code.InvalidArgument]: caller("INVALID_ARGUMENT", "BAD_REQUEST"),
  [Code.OutOfRange]: caller("OUT_OF_RANGE", "BAD_REQUEST"),
  [Code.Unauthenticated]: caller("UNAUTHENTICATED", "UNAUTHORIZED"),
  [Code.PermissionDenied]: caller("PERMISSION_DENIED", "FORBIDDEN"),
  [Code.NotFound]: caller("NOT_FOUND", "NOT_FOUND"),
  [Code.AlreadyExists]: caller("ALREADY_EXISTS", "CONFLICT"),
  [Code.FailedPrecondition]: caller("FAILED_PRECONDITION", "PRECONDITION_FAILED"),
  [Code.ResourceExhausted]: caller("RESOURCE_EXHAUSTED", "TOO_MANY_REQUESTS"),
  [Code.Unavailable]: outage("SERVICE_UNAVAILABLE"),
  // No Parley service answers ABORTED on purpose: the code arrives when a call's stream dies.
  [Code.Aborted]: outage("SERVICE_UNAVAILABLE"),
  [Code.Canceled]: outage("SERVICE_UNAVAILABLE"),
  [Code.DeadlineExceeded]: outage("TIMEOUT"),
  [Code.Internal]: BUG,
  [Code.Unknown]: BUG,
  [Code.DataLoss]: BUG,
  [Code.Unimplemented]: BUG,
};

/** The message of every outage and every bug: their own may name hosts or internals. */
export const OUTAGE_MESSAGE = "service temporarily unavailable";
export const BUG_MESSAGE = "internal error";
/** Seconds a client waits before retrying a call the services could not take. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 1;

export interface PublicError {
  /** The gRPC code name (socket Error frames). */
  name: string;
  /** The tRPC code (tRPC and REST answers). */
  trpcCode: TRPCCode;
  httpStatus: number;
  message: string;
  /** The input field (camelCase, as the public API spells it) the error is about. */
  field?: string;
  retryAfterSeconds?: number;
  /** A 413's limit: the file is larger than the server takes ("file-size"), or it would exceed the uploader's quota ("quota"). */
  limit?: SizeLimit;
  /** The same request may be sent again (the client's list, @parley/client's RETRYABLE_CODES). */
  retryable: boolean;
  severity: Severity;
}

/**
 * A service's own answer carries grpc-status (in trailers, which the client keeps as
 * metadata). Without it, the client library made the error up: the connection failed, was
 * reset (connect-node calls ECONNRESET "aborted") or the stream was cut. Never a caller's mistake.
 */
function isTransportFailure(error: ConnectError): boolean {
  return !error.metadata.has("grpc-status") && error.code !== Code.DeadlineExceeded;
}

/** Service fields are snake_case (proto); the public API speaks camelCase. */
export function camelCase(field: string): string {
  return field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** What a client may see of an error a service call (or anything else) threw. */
export function publicError(error: unknown): PublicError {
  const connect = ConnectError.from(error);
  const byCode = BY_GRPC_CODE[connect.code];
  // A cut stream or a broken answer is not a bug of ours. (Only those codes: the socket tier throws
  // ConnectErrors of its own, without trailers, for the caller's mistakes.)
  const limit = connect.code === Code.ResourceExhausted ? connect.metadata.get(LIMIT_TRAILER) ?? "" : "";
  if (SIZE_LIMITS.has(limit)) {
    const row = TOO_LARGE;
    return { name: row.name, trpcCode: row.trpc, httpStatus: httpStatusOf(row.trpc), retryable: false, severity: row.severity, message: connect.rawMessage, limit: limit as SizeLimit };
  }
  const row = byCode.severity === "bug" && error instanceof ConnectError && isTransportFailure(connect) ? outage("SERVICE_UNAVAILABLE") : byCode;
  const base = { name: row.name, trpcCode: row.trpc, httpStatus: httpStatusOf(row.trpc), retryable: isRetryable(row.name), severity: row.severity };
  if (row.severity === "bug") return { ...base, message: BUG_MESSAGE };
  const retryAfter = Number(connect.metadata.get(RETRY_AFTER_TRAILER) ?? NaN);
  const retryAfterSeconds = Number.isFinite(retryAfter) ? retryAfter : row.trpc === "SERVICE_UNAVAILABLE" ? UNAVAILABLE_RETRY_AFTER_SECONDS : undefined;
  if (row.severity === "outage") return { ...base, message: OUTAGE_MESSAGE, ...(retryAfterSeconds !== undefined && { retryAfterSeconds }) };
  const serviceField = connect.metadata.get(FIELD_TRAILER) ?? "";
  const field = serviceField ? camelCase(serviceField) : undefined;
  // "client_msg_id: <rule>" from a service reads "clientMsgId: <rule>", as the edge's own checks say it.
  const message = serviceField && connect.rawMessage.startsWith(`${serviceField}: `) ? `${field}: ${connect.rawMessage.slice(serviceField.length + 2)}` : connect.rawMessage;
  return { ...base, message, ...(field && { field }), ...(retryAfterSeconds !== undefined && { retryAfterSeconds }) };
}

function httpStatusOf(code: TRPCCode): number {
  return getHTTPStatusCodeFromError(new TRPCError({ code }));
}

/** What a client may learn besides code and message. */
export interface ErrorDetails {
  field?: string;
  retryAfterSeconds?: number;
  limit?: SizeLimit;
}

/** A tRPC error with the public details (REST and tRPC answers carry them). */
export class EdgeError extends TRPCError {
  constructor(
    code: TRPCCode,
    message: string,
    readonly details: ErrorDetails = {},
    cause?: unknown,
  ) {
    super({ code, message, cause });
  }
}

/** A service call's failure as tRPC and REST answer it. */
export function fromServiceError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  const failure = publicError(error);
  return new EdgeError(failure.trpcCode, failure.message, { field: failure.field, retryAfterSeconds: failure.retryAfterSeconds, limit: failure.limit }, error);
}

/** A failure as a socket Error frame carries it. */
export interface SocketError {
  code: string;
  message: string;
  field: string;
  /** Only for RESOURCE_EXHAUSTED (socket.proto): when the request may be sent again. */
  retryAfterMs: number;
  severity: Severity;
}

export function socketError(error: unknown): SocketError {
  const failure = publicError(error);
  const retryAfterMs = failure.name === "RESOURCE_EXHAUSTED" && failure.retryAfterSeconds ? failure.retryAfterSeconds * 1000 : 0;
  return { code: failure.name, message: failure.message, field: failure.field ?? "", retryAfterMs, severity: failure.severity };
}

function detailsOf(error: TRPCError): ErrorDetails {
  return error instanceof EdgeError ? error.details : {};
}

export interface PublicErrorBody {
  code: string;
  message: string;
  field?: string;
  retryAfterSeconds?: number;
  /** With PAYLOAD_TOO_LARGE from a file upload: "file-size" or "quota". */
  limit?: SizeLimit;
}

/**
 * What a client sees of any error, for tRPC and REST alike: input validation
 * names the field, internals become "internal error".
 */
export function describeError(error: TRPCError): PublicErrorBody {
  if (error.code === "INTERNAL_SERVER_ERROR") return { code: error.code, message: BUG_MESSAGE };
  const issue = firstValidationIssue(error.cause);
  if (issue) {
    const field = issue.path.map(String).join(".") || "input";
    return { code: "BAD_REQUEST", message: `${field}: ${issueMessage(issue)}`, field };
  }
  const details = detailsOf(error);
  return {
    code: error.code,
    message: error.message,
    ...(details.field && { field: details.field }),
    ...(details.retryAfterSeconds && { retryAfterSeconds: details.retryAfterSeconds }),
    ...(details.limit && { limit: details.limit }),
  };
}

interface Issue {
  path: PropertyKey[];
  message: string;
  code?: string;
  keys?: string[];
}

function firstValidationIssue(cause: unknown): Issue | undefined {
  const issues = (cause as { issues?: unknown } | undefined)?.issues;
  return Array.isArray(issues) && issues.length > 0 ? (issues[0] as Issue) : undefined;
}

function issueMessage(issue: Issue): string {
  if (issue.code === "unrecognized_keys" && issue.keys) return `unknown field(s): ${issue.keys.join(", ")}`;
  if (issue.code === "invalid_type" && /received undefined/.test(issue.message)) return "is required";
  return issue.message;
}
