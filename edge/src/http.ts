// The edge's HTTP server on bare node:http: tRPC at /trpc, REST at /api/v1,
// the web app's static files at /, with CORS, security headers and body limits.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { nodeHTTPRequestHandler } from "@trpc/server/adapters/node-http";
import type { Logger } from "@parley/kit";
import { contextInputFromRequest, createContextInner, type EdgeDeps } from "./api/context.js";
import type { TrustProxy } from "./api/proxy.js";
import { EdgeError } from "./api/errors.js";
import { createFileRoutes, FILE_SIZE_HEADER, isUpload } from "./api/files-http.js";
import { openApiDocument } from "./api/openapi.js";
import { createRestHandler, REST_PREFIX, sendError, sendJson } from "./api/rest.js";
import { appRouter } from "./api/routers/_app.js";
import { createUnsubscribeHandler, UNSUBSCRIBE_PATH } from "./api/unsubscribe.js";
import { isAllowedOrigin } from "./public-env.js";
import { ORIGIN_TICKET_PARAM, originTicket } from "./socket-origin.js";
import { createStaticHandler } from "./static.js";

export interface EdgeHttpOptions {
  deps: EdgeDeps;
  log: Logger;
  /** Origins allowed to call the API from a browser (besides the edge's own). */
  corsOrigins: string[];
  /**
   * The origins browsers load the web app from: allowed like corsOrigins, and where the
   * socket URL of /api/v1/config is built. Read per request: launch fills in the default
   * (the bound port) once the server listens.
   */
  publicOrigins: string[];
  maxBodyBytes: number;
  /** The most calls one tRPC batch may carry. */
  maxBatchSize: number;
  trustProxy: TrustProxy;
  /** Directory of the built web app; a placeholder page is served when it does not exist. */
  webRoot: string;
  /** Fixed public WebSocket URL, or undefined to derive it from the public origin of the request's host. */
  publicSocketUrl?: string;
  /** Port of the socket tier on the edge's host ("" when it is served at /ws on the same origin). */
  socketPublicPort: string;
  /** The internal secret shared with the socket tier: it signs the origin ticket of the socket URL (socket-origin.ts). */
  internalSecret: string;
}

const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
};

export function createEdgeServer(options: EdgeHttpOptions): Server {
  const { deps, log, maxBodyBytes, trustProxy } = options;
  const createContext = (req: IncomingMessage) => createContextInner(deps, contextInputFromRequest(req, trustProxy));
  const handleRest = createRestHandler({ router: appRouter, createContext, maxBodyBytes });
  const handleUnsubscribe = createUnsubscribeHandler({ createContext });
  const handleFileRoute = createFileRoutes({ createContext, log });
  const serveStatic = createStaticHandler(options.webRoot);
  let openApi: string | undefined;
  let allowedOrigins: Set<string> | undefined; // at the first request: publicOrigins are complete by then

  const server = createServer(async (req, res) => {
    const started = performance.now();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    res.on("finish", () => {
      if (res.statusCode >= 500) log.error({ method: req.method, url: loggedUrl(req), status: res.statusCode, ms: Math.round(performance.now() - started) }, "request failed");
      else log.debug({ method: req.method, url: loggedUrl(req), status: res.statusCode, ms: Math.round(performance.now() - started) }, "request");
    });
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://edge.invalid");
    } catch {
      return sendError(res, new EdgeError("BAD_REQUEST", "malformed URL"));
    }
    // A file upload may take long on a slow link (it has its own idle limit: files-http.ts); every
    // other request must be received whole within the request timeout.
    if (!(url.pathname.startsWith(`${REST_PREFIX}/`) && isUpload(req.method, url.pathname.slice(REST_PREFIX.length)))) armRequestTimeout(req, res);
    if (url.pathname === UNSUBSCRIBE_PATH) {
      // An email's link, POSTed by mail providers (RFC 8058) or by its own page: answered whatever
      // the Origin (the token is the capability, nothing else of the caller's is used) and no CORS.
      try {
        return await handleUnsubscribe(req, res, url.searchParams);
      } catch (error) {
        log.error({ err: error, url: loggedUrl(req) }, "unhandled request error");
        if (!res.headersSent) return sendError(res, new EdgeError("INTERNAL_SERVER_ERROR", "internal error"));
        return void res.destroy();
      }
    }
    const isApi = url.pathname.startsWith("/trpc/") || url.pathname.startsWith(`${REST_PREFIX}/`);
    allowedOrigins ??= new Set([...options.corsOrigins, ...options.publicOrigins]);
    if (isApi && !applyCors(req, res, allowedOrigins)) {
      return sendError(res, new EdgeError("FORBIDDEN", "this origin may not call the API"));
    }
    if (req.method === "OPTIONS" && isApi) {
      res.writeHead(204).end();
      return;
    }
    try {
      if (url.pathname === "/healthz") return sendJson(res, 200, { status: "ok" });
      if (url.pathname.startsWith("/trpc/")) {
        res.setHeader("cache-control", "no-store");
        return await nodeHTTPRequestHandler({
          router: appRouter,
          req,
          res,
          path: url.pathname.slice("/trpc/".length),
          maxBodySize: maxBodyBytes,
          maxBatchSize: options.maxBatchSize,
          createContext: ({ req }) => createContext(req),
          onError: ({ error, path }) => {
            if (error.code === "INTERNAL_SERVER_ERROR") log.error({ err: error.cause ?? error, path }, "procedure failed");
          },
        });
      }
      if (url.pathname === `${REST_PREFIX}/config`) {
        // Built from configured origins only, never from an arbitrary Host; still per request.
        res.setHeader("cache-control", "no-store");
        return sendJson(res, 200, { socketUrl: socketUrlFor(req, options) });
      }
      if (url.pathname === `${REST_PREFIX}/openapi.json`) {
        openApi ??= JSON.stringify(openApiDocument(appRouter));
        res.writeHead(200, { "content-type": "application/json; charset=utf-8" }).end(openApi);
        return;
      }
      if (url.pathname.startsWith(`${REST_PREFIX}/`) && (await handleFileRoute(req, res, url.pathname.slice(REST_PREFIX.length), url.searchParams))) return;
      if (url.pathname.startsWith(`${REST_PREFIX}/`) || url.pathname === REST_PREFIX) {
        res.setHeader("cache-control", "no-store");
        return await handleRest(req, res, url.pathname, url.searchParams);
      }
      return await serveStatic(req, res, url.pathname, socketHttpOrigin(socketUrlFor(req, options)));
    } catch (error) {
      log.error({ err: error, url: loggedUrl(req) }, "unhandled request error");
      if (!res.headersSent) sendError(res, new EdgeError("INTERNAL_SERVER_ERROR", "internal error"));
      else res.destroy();
    }
  });
  // Node's requestTimeout is one value for every request: uploads need longer, so it is armed per
  // request instead (armRequestTimeout). Headers must still come within headersTimeout.
  server.requestTimeout = 0;
  server.headersTimeout = 15_000;
  server.keepAliveTimeout = 65_000;
  return server;
}

/** How long a request other than an upload may take to arrive whole (headers included). */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Answers 408 and drops the connection when the request has not arrived whole in REQUEST_TIMEOUT_MS (as Node's requestTimeout does). */
function armRequestTimeout(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete) return;
  const timer = setTimeout(() => {
    if (req.complete) return;
    if (!res.headersSent) res.writeHead(408, { connection: "close", "content-type": "application/json; charset=utf-8" }).end(JSON.stringify({ error: { code: "TIMEOUT", message: "the request took too long to arrive" } }));
    req.socket.destroySoon();
  }, REQUEST_TIMEOUT_MS);
  timer.unref();
  req.once("end", () => clearTimeout(timer));
  res.once("close", () => clearTimeout(timer));
}

/** The request's URL for logs: an unsubscribe link's token is a capability, never written down. */
function loggedUrl(req: IncomingMessage): string | undefined {
  return req.url?.replace(/([?&]token=)[^&#]*/g, "$1[redacted]");
}

/**
 * The WebSocket URL for a browser on this request's origin: one of the public origins, never an
 * unknown Host, with the ticket that lets the socket tier accept that origin (socket-origin.ts).
 */
export function socketUrlFor(req: IncomingMessage, options: Pick<EdgeHttpOptions, "publicOrigins" | "publicSocketUrl" | "socketPublicPort" | "internalSecret">): string {
  const origins = options.publicOrigins.map((o) => new URL(o));
  const origin = origins.find((o) => o.host === req.headers.host) ?? origins[0] ?? new URL("http://localhost");
  const scheme = origin.protocol === "https:" ? "wss" : "ws";
  const url = new URL(
    options.publicSocketUrl ?? (options.socketPublicPort ? `${scheme}://${origin.hostname}:${options.socketPublicPort}/ws` : `${scheme}://${origin.host}/ws`),
  );
  url.searchParams.set(ORIGIN_TICKET_PARAM, originTicket(options.internalSecret, origin.origin));
  return url.toString();
}

/** The HTTP origin of a socket URL (where the web app asks whether the socket tier admits it). */
function socketHttpOrigin(socketUrl: string): string {
  const url = new URL(socketUrl);
  return `${url.protocol === "wss:" ? "https:" : "http:"}//${url.host}`;
}

/** Sets CORS headers for an allowed Origin; false when a cross-origin caller is not allowed. */
function applyCors(req: IncomingMessage, res: ServerResponse, allowed: ReadonlySet<string>): boolean {
  const origin = req.headers.origin;
  if (!isAllowedOrigin(origin, allowed)) return false;
  if (!origin) return true; // not a browser cross-origin request
  res.setHeader("access-control-allow-origin", origin);
  res.setHeader("vary", "Origin");
  res.setHeader("access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
  res.setHeader("access-control-allow-headers", `authorization, content-type, x-request-id, trpc-accept, ${FILE_SIZE_HEADER}`);
  res.setHeader("access-control-max-age", "600");
  return true;
}
