// What a failed frame tells the client: the public error of an Error frame.
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";

/** Failures of a downstream call that say nothing about the request itself. */
const TRANSIENT = new Set([Code.Unavailable, Code.Canceled, Code.DeadlineExceeded, Code.Aborted]);

export interface FrameFailure {
  code: string;
  message: string;
  /** How the node logs it: internal errors with their cause, transient ones as warnings. */
  log?: "error" | "warn";
}

/** Maps anything a frame handler threw to the code and message the client sees; never leaks internals. */
export function frameFailure(error: unknown): FrameFailure {
  const connect = ConnectError.from(error);
  if (connect.code === Code.Internal || connect.code === Code.Unknown) return { code: "INTERNAL", message: "internal error", log: "error" };
  // A service went away mid-call (or is restarting): the client may retry, sends with the same clientMsgId.
  if (TRANSIENT.has(connect.code)) return { code: "UNAVAILABLE", message: "service temporarily unavailable; try again", log: "warn" };
  return { code: grpc.status[connect.code as number] ?? "UNKNOWN", message: connect.rawMessage };
}
