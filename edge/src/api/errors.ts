// The one mapping from service errors (gRPC codes) to tRPC / HTTP errors.
// Messages of caller mistakes pass through; internals never reach a client.
import { Code, ConnectError } from "@connectrpc/connect";
import { TRPCError } from "@trpc/server";
import { FIELD_TRAILER, RETRY_AFTER_TRAILER } from "@parley/kit";

type TRPCCode = ConstructorParameters<typeof TRPCError>[0]["code"];

const BY_GRPC_CODE: Partial<Record<Code, TRPCCode>> = {
  [Code.InvalidArgument]: "BAD_REQUEST",
  [Code.OutOfRange]: "BAD_REQUEST",
  [Code.Unauthenticated]: "UNAUTHORIZED",
  [Code.PermissionDenied]: "FORBIDDEN",
  [Code.NotFound]: "NOT_FOUND",
  [Code.AlreadyExists]: "CONFLICT",
  // No Parley service answers ABORTED on purpose: the code arrives when a call's stream dies.
  [Code.Aborted]: "SERVICE_UNAVAILABLE",
  [Code.FailedPrecondition]: "PRECONDITION_FAILED",
  [Code.ResourceExhausted]: "TOO_MANY_REQUESTS",
  [Code.DeadlineExceeded]: "TIMEOUT",
  [Code.Unavailable]: "SERVICE_UNAVAILABLE",
};

/** What a client may learn besides code and message. */
export interface ErrorDetails {
  field?: string;
  retryAfterSeconds?: number;
}

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

/** Seconds a client waits before retrying a call the services could not take. */
const UNAVAILABLE_RETRY_AFTER_SECONDS = 1;

/**
 * A service's own answer carries grpc-status (in trailers, which the client keeps as
 * metadata). Without it, the client library made the error up: the connection failed, was
 * reset (connect-node calls ECONNRESET "aborted") or the stream was cut. Never a caller's mistake.
 */
function isTransportFailure(error: ConnectError): boolean {
  return !error.metadata.has("grpc-status") && error.code !== Code.DeadlineExceeded;
}

export function fromServiceError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  const connect = ConnectError.from(error);
  if (error instanceof ConnectError && isTransportFailure(connect)) {
    return new EdgeError("SERVICE_UNAVAILABLE", "service temporarily unavailable", { retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS }, error);
  }
  const code = BY_GRPC_CODE[connect.code];
  if (!code) return new EdgeError("INTERNAL_SERVER_ERROR", "internal error", {}, error);
  const field = connect.metadata.get(FIELD_TRAILER) ?? undefined;
  const retryAfter = Number(connect.metadata.get(RETRY_AFTER_TRAILER) ?? NaN);
  const unavailable = code === "SERVICE_UNAVAILABLE" || code === "TIMEOUT";
  return new EdgeError(
    code,
    unavailable ? "service temporarily unavailable" : connect.rawMessage,
    {
      field: field ? camelCase(field) : undefined,
      retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : code === "SERVICE_UNAVAILABLE" ? UNAVAILABLE_RETRY_AFTER_SECONDS : undefined,
    },
    error,
  );
}

/** Service fields are snake_case (proto); the public API speaks camelCase. */
function camelCase(field: string): string {
  return field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function detailsOf(error: TRPCError): ErrorDetails {
  return error instanceof EdgeError ? error.details : {};
}

export interface PublicErrorBody {
  code: string;
  message: string;
  field?: string;
  retryAfterSeconds?: number;
}

/**
 * What a client sees of any error, for tRPC and REST alike: input validation
 * names the field, internals become "internal error".
 */
export function describeError(error: TRPCError): PublicErrorBody {
  if (error.code === "INTERNAL_SERVER_ERROR") return { code: error.code, message: "internal error" };
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
