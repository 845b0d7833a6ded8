// SSRF rules for Web Push endpoints (issue 18). A push subscription's endpoint is a URL a browser
// hands us and the server later POSTs to: the kit's outbound rules (services/kit/src/outbound.ts)
// with https only, checked when a subscription is added (and again before each send), and the
// kit's guarded agents for the connection itself (every resolved address, and the one connected to).
//
// allowedHosts is NOTIFY_PUSH_ALLOWED_HOSTS (the kit's syntax: "host" or "host:port").
import {
  checkOutboundUrl,
  createOutboundAgents,
  createOutboundLookup,
  OutboundRefused,
  type OutboundAgentOptions,
  type OutboundAgents,
  type OutboundProblem,
} from "@parley/kit";
import type { LookupFunction } from "node:net";

export { forbiddenAddressReason, isAllowedHost, parseAllowedHosts, parseIPv4, parseIPv6 } from "@parley/kit";

/** The longest endpoint accepted (AddPushSubscriptionRequest.endpoint). */
export const MAX_PUSH_ENDPOINT_LENGTH = 2048;

export type PushEndpointProblem = OutboundProblem;

/** Why an endpoint (or the address it resolved to) may not be used; `message` is safe to show. */
export class PushEndpointError extends OutboundRefused {
  override readonly name = "PushEndpointError";
  override readonly code = "EPUSHENDPOINT";
}

const LABEL = "push endpoint";
const refusal = (problem: OutboundProblem, message: string) => new PushEndpointError(problem, message);

/** Checks a push endpoint and returns it parsed; throws PushEndpointError naming the rule it breaks. */
export function checkPushEndpoint(url: string, allowedHosts: readonly string[]): URL {
  return checkOutboundUrl(url, { label: LABEL, schemes: ["https:"], allowedHosts, maxLength: MAX_PUSH_ENDPOINT_LENGTH, refusal });
}

export type PushAgents = OutboundAgents;
export type PushAgentOptions = Pick<OutboundAgentOptions, "keepAlive" | "resolve">;

/** A lookup that resolves a push service's name and refuses it when any of its addresses is forbidden. */
export function createPushLookup(allowedHosts: readonly string[], options: Pick<PushAgentOptions, "resolve"> = {}): LookupFunction {
  return createOutboundLookup(allowedHosts, { ...options, label: LABEL, refusal });
}

/** http and https agents for sending pushes, guarded on every connection (the kit's outbound agents). */
export function createPushAgents(allowedHosts: readonly string[], options: PushAgentOptions = {}): PushAgents {
  return createOutboundAgents(allowedHosts, { ...options, label: LABEL, refusal });
}
