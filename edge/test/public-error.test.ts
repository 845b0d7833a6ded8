// The edge's one public-error mapping: what tRPC, REST and socket error frames say for each
// gRPC status, and that what it calls an outage is what the client retries.
import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { RETRYABLE_CODES } from "@parley/client/protocol";
import { fromServiceError, publicError, socketError } from "../src/public-error.js";

/** An error as a service answers it: with grpc-status among the trailers. */
const answered = (code: Code, message: string, trailers: Record<string, string> = {}) =>
  new ConnectError(message, code, new Headers({ "grpc-status": String(code), ...trailers }));

describe("public errors", () => {
  it("names a service's field in camelCase, in the field and at the head of the message", () => {
    const error = answered(Code.InvalidArgument, "client_msg_id: at most 64 letters", { "parley-field": "client_msg_id" });
    expect(publicError(error)).toMatchObject({ name: "INVALID_ARGUMENT", trpcCode: "BAD_REQUEST", httpStatus: 400, field: "clientMsgId", message: "clientMsgId: at most 64 letters", severity: "caller", retryable: false });
    expect(socketError(error)).toEqual({ code: "INVALID_ARGUMENT", message: "clientMsgId: at most 64 letters", field: "clientMsgId", retryAfterMs: 0, severity: "caller" });
    expect(fromServiceError(error)).toMatchObject({ code: "BAD_REQUEST", message: "clientMsgId: at most 64 letters", details: { field: "clientMsgId" } });
  });

  it("passes a rate limit's retry-after on, in seconds over HTTP and in ms on the socket", () => {
    const error = answered(Code.ResourceExhausted, "slow down", { "retry-after-seconds": "3" });
    expect(publicError(error)).toMatchObject({ trpcCode: "TOO_MANY_REQUESTS", httpStatus: 429, retryAfterSeconds: 3, retryable: true });
    expect(socketError(error)).toMatchObject({ code: "RESOURCE_EXHAUSTED", retryAfterMs: 3000 });
  });

  it("answers a size limit (RESOURCE_EXHAUSTED with x-parley-limit) 413 with the limit, not retryable; a rate stays 429", () => {
    for (const limit of ["file-size", "quota"] as const) {
      const error = answered(Code.ResourceExhausted, "the file is larger than 52428800 bytes", { "x-parley-limit": limit });
      expect(publicError(error)).toMatchObject({ trpcCode: "PAYLOAD_TOO_LARGE", httpStatus: 413, limit, retryable: false, severity: "caller", message: "the file is larger than 52428800 bytes" });
      expect(fromServiceError(error)).toMatchObject({ code: "PAYLOAD_TOO_LARGE", details: { limit } });
    }
    // An unknown limit name is not a size limit: the rate mapping holds.
    expect(publicError(answered(Code.ResourceExhausted, "slow down", { "x-parley-limit": "other" }))).toMatchObject({ httpStatus: 429 });
  });

  it("turns outages into one retryable answer with a generic text, and bugs into 'internal error'", () => {
    for (const code of [Code.Unavailable, Code.Aborted, Code.Canceled, Code.DeadlineExceeded]) {
      const failure = publicError(answered(code, "connect ECONNREFUSED 10.0.0.7:50051"));
      expect(failure, Code[code]).toMatchObject({ name: "UNAVAILABLE", severity: "outage", retryable: true, message: "service temporarily unavailable" });
      expect(failure.trpcCode).toBe(code === Code.DeadlineExceeded ? "TIMEOUT" : "SERVICE_UNAVAILABLE");
    }
    expect(publicError(answered(Code.Unavailable, "x"))).toMatchObject({ httpStatus: 503, retryAfterSeconds: 1 });
    for (const code of [Code.Internal, Code.Unknown, Code.DataLoss, Code.Unimplemented]) {
      expect(publicError(answered(code, "stack trace here")), Code[code]).toMatchObject({ name: "INTERNAL", trpcCode: "INTERNAL_SERVER_ERROR", httpStatus: 500, message: "internal error", severity: "bug" });
    }
    expect(publicError(new Error("boom"))).toMatchObject({ name: "INTERNAL", severity: "bug" });
  });

  it("takes an error without trailers for a broken connection only when it would otherwise be a bug", () => {
    expect(publicError(new ConnectError("stream cut", Code.Internal))).toMatchObject({ name: "UNAVAILABLE", severity: "outage" });
    // The socket tier's own errors for the caller's mistakes carry no trailers either.
    expect(publicError(new ConnectError("subscribe to the room first", Code.FailedPrecondition))).toMatchObject({ name: "FAILED_PRECONDITION", message: "subscribe to the room first", severity: "caller" });
  });

  it("calls retryable exactly what @parley/client retries", () => {
    for (const code of Object.values(Code).filter((c): c is Code => typeof c === "number")) {
      const failure = publicError(answered(code, "m"));
      expect(failure.retryable, Code[code]).toBe(RETRYABLE_CODES.has(failure.name));
      if (failure.severity !== "caller") expect(failure.retryable, Code[code]).toBe(true);
    }
  });
});
