// The WebSocket upgrade: origin, subprotocol, token and session, and the per-user socket cap,
// all before uWebSockets.js is asked to upgrade. Refusals are plain HTTP answers.
import { randomUUID } from "node:crypto";
import type { Logger } from "@parley/kit";
import { isAllowedOrigin } from "../public-env.js";
import { isTicketedOrigin, ORIGIN_TICKET_PARAM } from "../socket-origin.js";
import { refusalReason, type SocketAuth } from "./auth.js";
import { FrameLimiter } from "./frame-limiter.js";
import type { SocketLimits } from "./limits.js";
import type { PresenceStore } from "@parley/kit";
import { parseSubprotocols } from "./protocol.js";
import type { SocketState } from "./state.js";
import type { HttpRequest, HttpResponse, us_socket_context_t } from "./uws.js";

/** Sockets per user on this node, from the upgrade on: the cap counts them before they open. */
export class SocketsPerUser {
  private readonly counts = new Map<string, number>();

  of(userId: string): number {
    return this.counts.get(userId) ?? 0;
  }

  /** Counts one more socket unless `elsewhere` plus this node's reach `max`; synchronous, so a burst cannot all pass. */
  reserve(userId: string, elsewhere: number, max: number): boolean {
    const here = this.of(userId);
    if (here + elsewhere >= max) return false;
    this.counts.set(userId, here + 1);
    return true;
  }

  release(userId: string): void {
    const left = this.of(userId) - 1;
    if (left > 0) this.counts.set(userId, left);
    else this.counts.delete(userId);
  }
}

export interface UpgradeDeps {
  auth: SocketAuth;
  presence: PresenceStore;
  nodeId: string;
  allowedOrigins: Set<string>;
  /** The internal secret shared with the edge: checks the origin ticket of the socket URL (socket-origin.ts). */
  internalSecret: string;
  limits: SocketLimits;
  counts: SocketsPerUser;
  log: Logger;
  draining(): boolean;
}

/** The `upgrade` handler of the /ws route. */
export function upgradeHandler(deps: UpgradeDeps): (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => void {
  const { auth, presence, limits, counts, log } = deps;
  return (res, req, context) => {
    // Everything needed from req must be read now: it is gone after the first await.
    const key = req.getHeader("sec-websocket-key");
    const protocolHeader = req.getHeader("sec-websocket-protocol");
    const extensions = req.getHeader("sec-websocket-extensions");
    const origin = req.getHeader("origin");
    const query = new URLSearchParams(req.getQuery() ?? "");
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const refuse = (status: string, reason: string) => {
      if (!aborted) res.cork(() => res.writeStatus(status).writeHeader("content-type", "text/plain").end(reason));
    };
    if (deps.draining()) return refuse("503 Service Unavailable", "shutting down: connect to another node");
    if (!originAdmitted(origin, query, deps)) return refuse("403 Forbidden", ORIGIN_REFUSED);
    const { encoding, chosen, token } = parseSubprotocols(protocolHeader);
    const admit = async () => {
      let claims;
      try {
        claims = await auth.verify(token ?? query.get("token") ?? undefined);
      } catch (error) {
        return refuse("401 Unauthorized", refusalReason(error));
      }
      let ended: boolean;
      let elsewhere: number;
      try {
        [ended, elsewhere] = await Promise.all([auth.isEnded(claims.sessionId), presence.socketsElsewhere(claims.userId, deps.nodeId)]);
      } catch (error) {
        log.warn({ err: error }, "cannot check a session or the user's sockets");
        return refuse("503 Service Unavailable", "cannot verify the token right now; try again");
      }
      if (aborted) return;
      if (ended) return refuse("401 Unauthorized", "the session has ended; sign in again");
      // Counted from here, synchronously with the check: a burst of upgrades cannot all pass it.
      if (!counts.reserve(claims.userId, elsewhere, limits.maxSocketsPerUser)) return refuse("429 Too Many Requests", "too many open sockets for this user");
      const state: SocketState = {
        id: randomUUID(),
        userId: claims.userId,
        sessionId: claims.sessionId,
        expiresAt: claims.expiresAt,
        encoding,
        subs: new Map(),
        started: false,
        counted: true,
        closed: false,
        frames: new FrameLimiter(limits.framesPerSecond),
        typingAt: new Map(),
        lastActivity: Date.now(),
        drainWaiters: [],
      };
      res.cork(() => res.upgrade(state, key, chosen, extensions, context));
    };
    admit().catch((error: unknown) => {
      log.error({ err: error }, "upgrade failed");
      refuse("500 Internal Server Error", "internal error");
    });
  };
}

/** Why a browser's upgrade was refused for its Origin, and what the operator sets (the web app shows it). */
export const ORIGIN_REFUSED = "origin not allowed: set PUBLIC_ORIGIN (the origin browsers load Parley from) on the edge and the socket tier";

/**
 * The socket tier's origin rule: no Origin (not a browser), a configured one (CORS_ORIGINS,
 * PUBLIC_ORIGIN), or the one the edge's ticket names (socket-origin.ts: why that is safe).
 */
export function originAdmitted(origin: string | undefined, query: URLSearchParams, deps: Pick<UpgradeDeps, "allowedOrigins" | "internalSecret">): boolean {
  return isAllowedOrigin(origin, deps.allowedOrigins) || isTicketedOrigin(deps.internalSecret, origin, query.get(ORIGIN_TICKET_PARAM));
}
