// The socket's origin follows the edge (issue 15): whatever port the edge listens on, the
// socket tier accepts the origin the edge serves the web app from, through the ticket in the
// socket URL the edge hands out (edge/src/socket-origin.ts), and still refuses every other
// origin with 403; a plain GET of the socket URL tells the web app which it is.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEdge, startTestSocket, type TestEdge } from "./harness.js";
import { RawSocket } from "./sockets.js";

let edge: TestEdge;
let socket: Awaited<ReturnType<typeof startTestSocket>>;
beforeAll(async () => {
  edge = await startTestEdge({ RATE_REGISTER_PER_HOUR: "1000" });
  // No PUBLIC_ORIGIN, the default CORS_ORIGINS (localhost:3000/8080): the edge's free port is in neither.
  socket = await startTestSocket(edge.parley, { LOG_LEVEL: process.env.SOCKET_LOG_LEVEL ?? "silent" });
});
afterAll(async () => {
  await socket?.stop();
  await edge?.stop();
});

/** The socket URL the edge hands a page loaded from `base` (GET /api/v1/config, as the web app asks it). */
async function socketUrlFrom(base: string): Promise<URL> {
  const res = await fetch(`${base}/api/v1/config`);
  expect(res.status).toBe(200);
  return new URL(((await res.json()) as { socketUrl: string }).socketUrl);
}

/** The test socket node's URL with the query (the ticket) of `given`. */
const atTestSocket = (given: URL) => `${socket.url}${given.search}`;

describe("the socket tier's origin rule", () => {
  it("accepts the edge's own origin on a non-default port (from the ticket in /api/v1/config's socketUrl) and refuses another origin with 403", async () => {
    const alice = await edge.signUp("orig");
    const edgeOrigin = new URL(edge.base).origin;
    expect(edgeOrigin).not.toMatch(/:8080$/);
    const given = await socketUrlFrom(edge.base);
    expect(given.searchParams.get("origin_ticket")).toBeTruthy();
    const url = atTestSocket(given);

    const ws = await RawSocket.open(url, alice.accessToken, { origin: edgeOrigin });
    expect(ws.frames[0]?.hello).toBeDefined();
    ws.close();

    const protocols = ["parley.v1.json", `parley.auth.${alice.accessToken}`];
    // An attacker's page, even with the ticket: the browser sets Origin, not the page.
    expect(await RawSocket.refusal(url, protocols, "https://evil.example")).toBe(403);
    // Another origin of the same host (another port, or the other loopback name): another origin.
    const port = new URL(edge.base).port;
    expect(await RawSocket.refusal(url, protocols, `http://127.0.0.1:${Number(port) + 1}`)).toBe(403);
    expect(await RawSocket.refusal(url, protocols, `http://localhost:${port}`)).toBe(403);
    // Without the ticket, the edge's origin is not configured on this socket node: refused.
    expect(await RawSocket.refusal(socket.url, protocols, edgeOrigin)).toBe(403);
    // A forged ticket is refused.
    expect(await RawSocket.refusal(`${socket.url}?origin_ticket=${"A".repeat(43)}`, protocols, edgeOrigin)).toBe(403);
  });

  it("names the origin of the page's host among the edge's own, never a foreign Host", async () => {
    const viaLocalhost = await fetch(`${edge.base.replace("127.0.0.1", "localhost")}/api/v1/config`);
    const ticketed = new URL(((await viaLocalhost.json()) as { socketUrl: string }).socketUrl);
    const alice = await edge.signUp("host");
    const ws = await RawSocket.open(atTestSocket(ticketed), alice.accessToken, { origin: new URL(edge.base.replace("127.0.0.1", "localhost")).origin });
    ws.close();
    // A Host the edge does not serve gets a URL for its first own origin, which a hostile page's Origin does not match.
    const evil = await edge.api("GET", "/api/v1/config", { headers: { host: "evil.example" } });
    const forEvil = new URL(evil.json.socketUrl as string);
    expect(await RawSocket.refusal(atTestSocket(forEvil), ["parley.v1.json", `parley.auth.${alice.accessToken}`], "http://evil.example")).toBe(403);
  });

  it("answers a plain GET of the socket URL with whether this Origin is admitted, readable by the web app (CORS), and lets the page's CSP reach it", async () => {
    const edgeOrigin = new URL(edge.base).origin;
    const given = await socketUrlFrom(edge.base);
    const http = atTestSocket(given).replace(/^ws:/, "http:");
    const admitted = await fetch(http, { headers: { origin: edgeOrigin } });
    expect(admitted.status).toBe(200);
    expect(await admitted.json()).toEqual({ origin: "allowed" });
    const refused = await fetch(http, { headers: { origin: "https://evil.example" } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBe("*");
    expect(await refused.json()).toMatchObject({ origin: "refused", setting: "PUBLIC_ORIGIN", message: expect.stringContaining("PUBLIC_ORIGIN") });
    // The page may fetch the socket tier's HTTP origin (connect-src), and nothing else beyond its own and WebSockets.
    const page = await fetch(`${edge.base}/`);
    const socketHttp = `http://${given.host}`;
    expect(page.headers.get("content-security-policy")).toContain(`connect-src 'self' ws: wss: ${socketHttp};`);
  });

  it("in the all-in-one process on free ports, the socket tier started with the edge accepts the edge's origin", async () => {
    const parley = edge.parley;
    const edgeBase = `http://${parley.addresses.edge}`;
    const given = await socketUrlFrom(edgeBase);
    expect(given.host).toBe(parley.addresses.socket);
    const alice = await edge.signUp("aio");
    const ws = await RawSocket.open(given.toString(), alice.accessToken, { origin: new URL(edgeBase).origin });
    expect(ws.frames[0]?.hello).toBeDefined();
    ws.close();
    expect(await RawSocket.refusal(given.toString(), ["parley.v1.json", `parley.auth.${alice.accessToken}`], "https://evil.example")).toBe(403);
  });
});
