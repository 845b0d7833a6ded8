// How the socket tier follows the edge's origin. The edge serves the web app and knows its
// public origin(s): PUBLIC_ORIGIN, or http://localhost and http://127.0.0.1 on the port it bound
// (any port, 0 included). The socket URL it hands to the web app (GET /api/v1/config) carries
// an origin ticket: an HMAC, keyed with the internal secret the edge and the socket tier share
// (INTERNAL_AUTH_SECRET), of the origin the edge built that URL for. The socket tier accepts a
// browser Origin that is configured (CORS_ORIGINS, PUBLIC_ORIGIN) or that the ticket names.
//
// Why this is safe: only the edge can make a ticket, and only for an origin it serves; a ticket
// is public (anyone can GET /api/v1/config) but names one origin, and the browser, not the page,
// sets Origin. A hostile page on another origin, with any ticket, still gets 403. Not the Host
// header: under DNS rebinding a hostile page's Origin and Host are the same hostile name, and a
// page on another port of the same host is another origin.
import { createHmac, timingSafeEqual } from "node:crypto";

/** The query parameter of the socket URL that carries the ticket. */
export const ORIGIN_TICKET_PARAM = "origin_ticket";

// Domain separation from the internal credential's other uses of the same secret.
const LABEL = "parley.socket.origin.v1\n";

/** The ticket naming `origin` (as a browser sends it: scheme://host[:port]). */
export function originTicket(secret: string, origin: string): string {
  return createHmac("sha256", secret).update(LABEL + origin).digest("base64url");
}

/** Whether `ticket` was made by an edge sharing `secret` for exactly this Origin. */
export function isTicketedOrigin(secret: string, origin: string | undefined, ticket: string | null | undefined): boolean {
  if (!origin || !ticket) return false;
  const want = Buffer.from(originTicket(secret, origin));
  const got = Buffer.from(ticket);
  return got.length === want.length && timingSafeEqual(got, want);
}
