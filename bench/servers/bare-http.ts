// Baseline for the edge: a bare node:http server on the same runtime (no
// framework, no auth, no services) answering GET with a list page, POST with a
// sent message and GET /error with a 400 error: the edge's own answers
// (BENCH_GET_BODY, BENCH_POST_BODY, BENCH_ERROR_BODY), serialised with
// JSON.stringify on every request; POST bodies are read and parsed.
import { createServer } from "node:http";
import { serveBenchTarget } from "../lib/target-process.js";

await serveBenchTarget(async () => {
  const getBody: unknown = JSON.parse(process.env.BENCH_GET_BODY ?? "{}");
  const postBody: unknown = JSON.parse(process.env.BENCH_POST_BODY ?? "{}");
  const errorBody: unknown = JSON.parse(process.env.BENCH_ERROR_BODY ?? "{}");
  const send = (res: import("node:http").ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const server = createServer((req, res) => {
    if (req.method !== "POST") return req.url === "/error" ? send(res, 400, errorBody) : send(res, 200, getBody);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      try {
        JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return send(res, 400, { error: { code: "BAD_REQUEST", message: "the body is not valid JSON" } });
      }
      send(res, 201, postBody);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
});
