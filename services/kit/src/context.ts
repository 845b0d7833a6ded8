// Per-call context: who is calling, for which request, until when. Kept in
// AsyncLocalStorage so that clients called from a handler propagate the request
// id and the remaining deadline without threading it through every function.
import { AsyncLocalStorage } from "node:async_hooks";
import { fail } from "./errors.js";
import type { Logger } from "./logger.js";

/**
 * Metadata keys set by the edge. Services read x-user-id and x-session-id only from the signed
 * internal credential (internal-auth.ts): a client turns these intent headers into it.
 */
export const META = {
  requestId: "x-request-id",
  userId: "x-user-id",
  sessionId: "x-session-id",
  clientAddress: "x-client-address",
  userAgent: "x-client-user-agent",
} as const;

export interface CallContext {
  requestId: string;
  /** The Parley process (or "operator:<name>") that signed the call's credential. */
  caller: string;
  /** Holds an admin credential. */
  admin: boolean;
  /** The signed-in user the edge verified, if any (from the verified credential only). */
  userId?: string;
  sessionId?: string;
  clientAddress?: string;
  userAgent?: string;
  /** Absolute deadline in ms since the epoch, if the caller set one. */
  deadline?: number;
  /** Aborted when the caller cancels or the deadline passes. */
  signal: AbortSignal;
  log: Logger;
  /** Adds a response trailer. */
  setTrailer(key: string, value: string): void;
}

const storage = new AsyncLocalStorage<CallContext>();

export function runInContext<T>(ctx: CallContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentContext(): CallContext | undefined {
  return storage.getStore();
}

/** The caller's user id, or UNAUTHENTICATED. */
export function requireUserId(ctx: CallContext): string {
  if (!ctx.userId) throw fail.unauthenticated("this call needs a signed-in user");
  return ctx.userId;
}
