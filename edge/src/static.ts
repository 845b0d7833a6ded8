// Serves the built web app (web/dist): hashed assets cached for a year,
// index.html for every other path (client-side routing), a strict CSP.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

// No inline script, no eval, no foreign origins; the socket tier may be on another port, and
// the web app may ask it over HTTP whether it admits this origin (`socketOrigin`, per request).
export const csp = (socketOrigin = "") =>
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; " +
  `connect-src 'self' ws: wss:${socketOrigin ? ` ${socketOrigin}` : ""}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'`;

const PLACEHOLDER = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Parley</title></head>
<body><main><h1>Parley is running</h1><p>The web app has not been built yet. The API is at
<a href="/api/v1/openapi.json">/api/v1</a> (REST) and /trpc (tRPC).</p></main></body></html>`;

export function createStaticHandler(webRoot: string) {
  const root = resolve(webRoot);
  return async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string, socketOrigin?: string): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    res.setHeader("content-security-policy", csp(socketOrigin));
    let relative: string;
    try {
      relative = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, "");
    } catch {
      res.writeHead(400).end();
      return;
    }
    const file = join(root, relative);
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(404).end();
      return;
    }
    const found = await regularFile(file);
    const target = found ? file : await regularFile(join(root, "index.html")).then((ok) => (ok ? join(root, "index.html") : undefined));
    if (!target) {
      res.writeHead(200, { "content-type": TYPES[".html"]!, "cache-control": "no-cache" }).end(req.method === "HEAD" ? undefined : PLACEHOLDER);
      return;
    }
    const immutable = found && relative.startsWith("assets/");
    res.writeHead(200, {
      "content-type": TYPES[extname(target)] ?? "application/octet-stream",
      "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    createReadStream(target).on("error", () => res.destroy()).pipe(res);
  };
}

async function regularFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
