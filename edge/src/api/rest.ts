// The REST API under /api/v1, generated from the tRPC procedures' `rest` meta:
// same inputs, same validation, same services. Answers `{error: {code, message}}` on failure.
import type { IncomingMessage, ServerResponse } from "node:http";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { TRPCError, type AnyTRPCProcedure } from "@trpc/server";
import type { AppRouter } from "./routers/_app.js";
import type { Context } from "./context.js";
import { createCallerFactory, type RestMeta } from "./trpc.js";
import { describeError, EdgeError } from "./errors.js";

export const REST_PREFIX = "/api/v1";

interface Route {
  method: NonNullable<RestMeta["rest"]>["method"];
  procedurePath: string;
  pattern: RegExp;
  params: string[];
  status: number;
}

export function restRoutes(router: AppRouter): (Route & { path: string; meta: NonNullable<RestMeta["rest"]>; procedure: AnyTRPCProcedure })[] {
  const procedures = router._def.procedures as unknown as Record<string, AnyTRPCProcedure>;
  return Object.entries(procedures).flatMap(([procedurePath, procedure]) => {
    const rest = (procedure._def.meta as RestMeta | undefined)?.rest;
    if (!rest) return [];
    const params: string[] = [];
    const source = rest.path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
      params.push(name);
      return "([^/]+)";
    });
    return [{ method: rest.method, procedurePath, pattern: new RegExp(`^${source}$`), params, status: rest.status ?? 200, path: rest.path, meta: rest, procedure }];
  });
}

export interface RestHandlerOptions {
  router: AppRouter;
  createContext: (req: IncomingMessage) => Context;
  maxBodyBytes: number;
}

export function createRestHandler({ router, createContext, maxBodyBytes }: RestHandlerOptions) {
  // Literal segments before parameters: /rooms/public must win over /rooms/:id.
  const routes = restRoutes(router).sort((a, b) => a.params.length - b.params.length);
  const createCaller = createCallerFactory(router);

  return async function handleRest(req: IncomingMessage, res: ServerResponse, pathname: string, search: URLSearchParams) {
    const path = pathname.slice(REST_PREFIX.length) || "/";
    try {
      const matches = routes.filter((r) => r.pattern.test(path));
      const route = matches.find((r) => r.method === req.method);
      if (!route) {
        if (matches.length > 0) {
          res.setHeader("Allow", [...new Set(matches.map((r) => r.method))].join(", "));
          throw new EdgeError("METHOD_NOT_SUPPORTED", `${req.method} is not allowed here`);
        }
        throw new EdgeError("NOT_FOUND", `no endpoint ${req.method} ${REST_PREFIX}${path}`);
      }
      const values = route.pattern.exec(path)!.slice(1).map((value, i) => decodeParam(route.params[i]!, value));
      const input: Record<string, unknown> =
        route.method === "GET" || route.method === "DELETE" ? queryObject(search) : await readJsonBody(req, maxBodyBytes);
      route.params.forEach((name, i) => (input[name] = values[i]));
      const caller = createCaller(createContext(req)) as unknown as Record<string, unknown>;
      const procedure = route.procedurePath.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller);
      // A GET whose query parameters are all optional (GET /mentions) takes {} when none is given.
      const takesInput = route.procedure._def.inputs.length > 0 && route.method === "GET";
      const result = await (procedure as (input: unknown) => Promise<unknown>)(
        Object.keys(input).length > 0 || route.params.length > 0 || takesInput ? input : undefined,
      );
      if (route.status === 204 || result === undefined) {
        res.writeHead(route.status === 200 ? 204 : route.status).end();
        return;
      }
      sendJson(res, route.status, result);
    } catch (error) {
      sendError(res, error instanceof TRPCError ? error : new EdgeError("INTERNAL_SERVER_ERROR", "internal error", {}, error));
    }
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, error: TRPCError): void {
  const status = getHTTPStatusCodeFromError(error);
  const body = describeError(error);
  if (body.retryAfterSeconds) res.setHeader("Retry-After", String(body.retryAfterSeconds));
  if (status === 401) res.setHeader("WWW-Authenticate", 'Bearer realm="parley"');
  sendJson(res, status, { error: body });
}

/** A path parameter as sent; a malformed %-escape is the caller's mistake. */
function decodeParam(name: string, value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new EdgeError("BAD_REQUEST", `${name}: malformed percent-encoding`, { field: name });
  }
}

function queryObject(search: URLSearchParams): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const key of new Set(search.keys())) {
    const all = search.getAll(key);
    if (all.length > 1) throw new EdgeError("BAD_REQUEST", `${key}: give it once`, { field: key });
    input[key] = all[0];
  }
  return input;
}

/** Reads a JSON object body of at most `limit` bytes: 413 above, 400 when it is not a JSON object. */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const type = req.headers["content-type"];
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new EdgeError("PAYLOAD_TOO_LARGE", `the body is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new EdgeError("PAYLOAD_TOO_LARGE", `the body is larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  // Exactly application/json (parameters aside): JSON Patch and other +json types mean something else.
  if (type && type.split(";", 1)[0]!.trim().toLowerCase() !== "application/json") {
    throw new EdgeError("UNSUPPORTED_MEDIA_TYPE", "send the body as application/json");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new EdgeError("BAD_REQUEST", "the body is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new EdgeError("BAD_REQUEST", "the body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}
