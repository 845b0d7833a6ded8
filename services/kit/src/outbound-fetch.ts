// GET a URL someone else chose (a link in a message, the image or oEmbed document its page names)
// under the SSRF rules of outbound.ts: each hop checked by checkOutboundUrl before it is requested,
// redirects followed here (never by a library) and re-checked, the connection made only through the
// guarded agents (every resolved address and the one connected to), a connect and a total time
// limit, a byte limit (reading stops there and what came is returned, marked truncated), no cookies,
// no credentials, no compression (a small compressed body cannot expand past the limit unseen).
import http from "node:http";
import https from "node:https";
import { checkOutboundUrl, type OutboundAgents, type OutboundRules } from "./outbound.js";

export interface OutboundFetchOptions {
  rules: OutboundRules;
  /** Built with the same allowed hosts as `rules` (createOutboundAgents). */
  agents: OutboundAgents;
  /** Reading stops after this many bytes of body; the response is then `truncated`. */
  maxBytes: number;
  /** For the whole fetch, every redirect and the body included. */
  timeoutMs: number;
  /** For each TCP (and TLS) connection; default the smaller of timeoutMs and 5 s. */
  connectTimeoutMs?: number;
  /** Default 5. */
  maxRedirects?: number;
  userAgent: string;
  accept?: string;
}

export interface OutboundResponse {
  /** Where the body came from, after redirects. */
  url: URL;
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body stopped at maxBytes. */
  truncated: boolean;
}

export type OutboundFetchFailure = "timeout" | "redirects" | "status" | "network";

/** A fetch that was allowed but did not give a page: `message` is safe to log. */
export class OutboundFetchError extends Error {
  override readonly name = "OutboundFetchError";
  constructor(
    readonly reason: OutboundFetchFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Fetches `url` by GET; resolves with a 2xx answer, throws the rules' refusal (OutboundRefused or
 * the caller's subclass) for a URL or address the rules forbid, at any hop, and OutboundFetchError
 * otherwise.
 */
export async function fetchOutbound(url: string, options: OutboundFetchOptions): Promise<OutboundResponse> {
  const maxRedirects = options.maxRedirects ?? 5;
  const deadline = Date.now() + options.timeoutMs;
  let target = checkOutboundUrl(url, options.rules);
  for (let hop = 0; ; hop++) {
    const answer = await requestOnce(target, options, deadline);
    if (answer.kind === "redirect") {
      if (hop >= maxRedirects) throw new OutboundFetchError("redirects", `${options.rules.label}: more than ${maxRedirects} redirects`);
      let next: URL;
      try {
        next = new URL(answer.location, target);
      } catch {
        throw new OutboundFetchError("status", `${options.rules.label}: a redirect to an invalid URL`);
      }
      target = checkOutboundUrl(next.href, options.rules);
      continue;
    }
    if (answer.response.status < 200 || answer.response.status > 299) {
      throw new OutboundFetchError("status", `${options.rules.label}: ${target.host} answered ${answer.response.status}`);
    }
    return answer.response;
  }
}

type HopAnswer = { kind: "redirect"; location: string } | { kind: "response"; response: OutboundResponse };

function requestOnce(target: URL, options: OutboundFetchOptions, deadline: number): Promise<HopAnswer> {
  const label = options.rules.label;
  return new Promise<HopAnswer>((resolve, reject) => {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return reject(new OutboundFetchError("timeout", `${label}: no answer within ${options.timeoutMs} ms`));
    const secure = target.protocol === "https:";
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      fn();
    };
    const request = (secure ? https : http).request(
      {
        protocol: target.protocol,
        hostname: target.hostname.startsWith("[") ? target.hostname.slice(1, -1) : target.hostname,
        port: target.port || (secure ? 443 : 80),
        path: `${target.pathname}${target.search}`,
        method: "GET",
        agent: secure ? options.agents.https : options.agents.http,
        // The Host header is the URL's (node sets it); nothing else identifies or authenticates us.
        headers: {
          "user-agent": options.userAgent,
          accept: options.accept ?? "*/*",
          "accept-encoding": "identity",
        },
        ...(secure && { servername: isIpLiteral(target.hostname) ? undefined : target.hostname }),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const location = response.headers.location;
        if (REDIRECTS.has(status) && location) {
          response.destroy();
          request.destroy();
          return settle(() => resolve({ kind: "redirect", location }));
        }
        if (status < 200 || status > 299) {
          response.destroy();
          request.destroy();
          return settle(() => resolve({ kind: "response", response: { url: target, status, headers: response.headers, body: Buffer.alloc(0), truncated: false } }));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = (truncated: boolean) =>
          settle(() => resolve({ kind: "response", response: { url: target, status, headers: response.headers, body: Buffer.concat(chunks, size), truncated } }));
        response.on("data", (chunk: Buffer) => {
          if (settled) return;
          const room = options.maxBytes - size;
          if (chunk.length >= room) {
            // At the limit: keep what fits, stop reading, and close the connection.
            chunks.push(chunk.subarray(0, room));
            size += room;
            response.destroy();
            request.destroy();
            return finish(true);
          }
          chunks.push(chunk);
          size += chunk.length;
        });
        response.on("end", () => finish(false));
        response.on("error", (error) => settle(() => reject(asFetchError(error, label))));
        response.on("close", () => {
          if (!response.complete) settle(() => reject(new OutboundFetchError("network", `${label}: ${target.host} closed the connection early`)));
        });
      },
    );
    const abort = (error: Error) => {
      settle(() => reject(error));
      request.destroy(error);
    };
    timers.push(setTimeout(() => abort(new OutboundFetchError("timeout", `${label}: no complete answer within ${options.timeoutMs} ms`)), remaining));
    const connectMs = Math.min(options.connectTimeoutMs ?? 5_000, remaining);
    request.on("socket", (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => abort(new OutboundFetchError("timeout", `${label}: could not connect to ${target.host} within ${connectMs} ms`)), connectMs);
      timers.push(timer);
      socket.once(secure ? "secureConnect" : "connect", () => clearTimeout(timer));
    });
    request.on("error", (error) => settle(() => reject(asFetchError(error, label))));
    request.end();
  });
}

/** A refusal by the guarded agents stays itself (the caller tells refusals from failures); the rest is a network failure. */
function asFetchError(error: Error, label: string): Error {
  if (error instanceof OutboundFetchError || (error as { problem?: unknown }).problem !== undefined) return error;
  return new OutboundFetchError("network", `${label}: ${error.message}`, { cause: error });
}

function isIpLiteral(hostname: string): boolean {
  return hostname.startsWith("[") || /^[0-9.]+$/.test(hostname);
}
