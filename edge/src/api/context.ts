// Request context: what every procedure knows about the call. createContextInner
// is split out so tests can call procedures through createCaller without HTTP.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { SessionStates } from "@parley/kit/tokens";
import type { AccessTokenVerifier } from "@parley/kit/tokens";
import type { Logger, RateLimiter } from "@parley/kit";
import { clientAddressOf, type TrustProxy } from "./proxy.js";
import type { Caller, ServiceClients } from "./services.js";

export interface EdgeDeps {
  services: ServiceClients;
  verifier: AccessTokenVerifier;
  /** Whether a verified token's session has ended since it was issued. */
  sessions: SessionStates;
  limiter: RateLimiter;
  limits: RateLimits;
  /** For what a procedure notes but does not fail on (a service that did not answer in time). */
  log: Logger;
}

export interface RateLimits {
  /** Registrations per client address per hour. */
  registerPerAddress: number;
  /** Login attempts per client address per minute (the auth service also counts failures per account). */
  loginPerAddress: number;
  /** Email unsubscribe requests (no sign-in) per client address per minute. */
  unsubscribePerAddress: number;
  /** Sends per user per 10 seconds, and per client address per 10 seconds. */
  sendPerUser: number;
  sendPerAddress: number;
  /** Per user per 10 seconds, each call of a batch counted: queries, searches, and writes other than sends. */
  readPerUser: number;
  searchPerUser: number;
  writePerUser: number;
}

export interface ContextInput {
  requestId?: string;
  clientAddress?: string;
  userAgent?: string;
  /** The raw bearer token, verified lazily by authedProcedure. */
  accessToken?: string;
}

export function createContextInner(deps: EdgeDeps, input: ContextInput) {
  const caller: Caller = {
    requestId: input.requestId ?? randomUUID(),
    clientAddress: input.clientAddress ?? "unknown",
    userAgent: input.userAgent ?? "",
  };
  return { ...deps, caller, accessToken: input.accessToken };
}

export type Context = ReturnType<typeof createContextInner>;

/** The context of an HTTP request. `trustProxy`: which X-Forwarded-For hops are our own proxies. */
export function contextInputFromRequest(req: IncomingMessage, trustProxy: TrustProxy): ContextInput {
  const auth = req.headers.authorization;
  const bearer = typeof auth === "string" && /^Bearer\s+/i.test(auth) ? auth.replace(/^Bearer\s+/i, "").trim() : undefined;
  const requestId = req.headers["x-request-id"];
  return {
    requestId: typeof requestId === "string" && /^[\w.-]{1,64}$/.test(requestId) ? requestId : undefined,
    clientAddress: clientAddressOf(req, trustProxy),
    userAgent: typeof req.headers["user-agent"] === "string" ? req.headers["user-agent"] : undefined,
    accessToken: bearer,
  };
}
