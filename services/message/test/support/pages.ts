// Web pages for the link preview tests: an HTTP server on 127.0.0.1 (a free port) answering each
// path with the handler a test gives, and recording every request it receives (path and headers),
// so that a test can say "this server was never asked".
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
}

export interface PageServer {
  port: number;
  /** http://127.0.0.1:<port> */
  origin: string;
  requests: ReceivedRequest[];
  hits(path: string): number;
  route(path: string, handler: http.RequestListener): void;
  close(): Promise<void>;
}

export async function startPageServer(): Promise<PageServer> {
  const routes = new Map<string, http.RequestListener>();
  const requests: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    const path = req.url ?? "/";
    requests.push({ path, headers: req.headers });
    const handler = routes.get(path);
    if (!handler) return void res.writeHead(404, { "content-type": "text/plain" }).end("no such page");
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    hits: (path) => requests.filter((r) => r.path === path).length,
    route: (path, handler) => void routes.set(path, handler),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** An HTML page with these Open Graph properties (values escaped as a page would). */
export function openGraphPage(properties: Record<string, string>, body = "<p>hello</p>"): string {
  const escape = (value: string) => value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  const meta = Object.entries(properties)
    .map(([property, content]) => `<meta property="${property}" content="${escape(content)}">`)
    .join("\n    ");
  return `<!doctype html>\n<html>\n  <head>\n    <meta charset="utf-8">\n    ${meta}\n    <title>fallback title</title>\n  </head>\n  <body>${body}</body>\n</html>\n`;
}
