// The kit's outbound rules and fetcher (services/kit/src/outbound.ts, outbound-fetch.ts) against
// real HTTP servers on 127.0.0.1. The address classes themselves are covered through notify's
// push endpoint rules (services/notify/test/channels/push-endpoint.test.ts), a thin use of these.
import type dns from "node:dns";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkOutboundUrl,
  createOutboundAgents,
  fetchOutbound,
  OutboundFetchError,
  OutboundRefused,
  type OutboundFetchOptions,
  type OutboundResolver,
  type OutboundRules,
} from "../src/index.js";

interface Server {
  port: number;
  requests: { path: string; headers: http.IncomingHttpHeaders }[];
  routes: Map<string, http.RequestListener>;
  close(): Promise<void>;
}

async function startServer(): Promise<Server> {
  const routes = new Map<string, http.RequestListener>();
  const requests: Server["requests"] = [];
  const server = http.createServer((req, res) => {
    requests.push({ path: req.url ?? "/", headers: req.headers });
    const route = routes.get(req.url ?? "/");
    if (route) route(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    routes,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const resolverFrom =
  (answers: Record<string, string>): OutboundResolver =>
  (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => {
    const address = answers[hostname];
    if (!address) {
      const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      error.code = "ENOTFOUND";
      return setImmediate(() => callback(error, []));
    }
    setImmediate(() => callback(null, [{ address, family: address.includes(":") ? 6 : 4 }]));
  };

describe("checkOutboundUrl", () => {
  const rules: OutboundRules = { label: "link", schemes: ["http:", "https:"], allowedHosts: ["wiki.corp.example:8080"] };
  const problem = (url: string) => {
    try {
      checkOutboundUrl(url, rules);
      return "accepted";
    } catch (error) {
      expect(error).toBeInstanceOf(OutboundRefused);
      return `${(error as OutboundRefused).problem}: ${(error as Error).message}`;
    }
  };

  it("takes the schemes it is given, default ports only, unless a host:port is allowed", () => {
    expect(problem("http://news.example.com/a")).toBe("accepted");
    expect(problem("https://news.example.com:443/a")).toBe("accepted");
    expect(problem("http://news.example.com:8080/a")).toBe("port: link: must use the default http port (got 8080)");
    expect(problem("http://wiki.corp.example:8080/page")).toBe("accepted");
    expect(problem("http://wiki.corp.example:8081/page")).toMatch(/^local_name|^port/);
    expect(problem("gopher://news.example.com/")).toBe("scheme: link: must be an http or https URL (got gopher:)");
    expect(problem("http://u:p@news.example.com/")).toMatch(/^credentials/);
    expect(problem("http://2130706433/")).toBe("forbidden_address: link: 127.0.0.1 is a loopback address");
    expect(checkOutboundUrl("https://push.example.com/x", { label: "push endpoint", schemes: ["https:"], allowedHosts: [] }).host).toBe("push.example.com");
    expect(() => checkOutboundUrl("http://push.example.com/x", { label: "push endpoint", schemes: ["https:"], allowedHosts: [] })).toThrow(
      "push endpoint: must be an https URL (got http:)",
    );
  });
});

describe("fetchOutbound", () => {
  let allowed: Server;
  let target: Server;
  let options: (overrides?: Partial<OutboundFetchOptions>) => OutboundFetchOptions;
  const agents: ReturnType<typeof createOutboundAgents>[] = [];

  beforeAll(async () => {
    [allowed, target] = await Promise.all([startServer(), startServer()]);
    const allowedHosts = [`127.0.0.1:${allowed.port}`];
    const shared = createOutboundAgents(allowedHosts, { keepAlive: false, label: "link" });
    agents.push(shared);
    options = (overrides = {}) => ({
      rules: { label: "link", schemes: ["http:", "https:"], allowedHosts },
      agents: shared,
      maxBytes: 1024,
      timeoutMs: 2_000,
      userAgent: "ParleyTest/1.0",
      ...overrides,
    });
    allowed.routes.set("/page", (_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("<title>hi</title>"));
    allowed.routes.set("/cookie-then-page", (_req, res) => res.writeHead(302, { location: "/page", "set-cookie": "sid=1; Path=/" }).end());
    for (let i = 0; i < 8; i++) allowed.routes.set(`/hop/${i}`, (_req, res) => res.writeHead(301, { location: `/hop/${i + 1}` }).end());
    allowed.routes.set("/big", (_req, res) => res.writeHead(200).end(Buffer.alloc(100_000, "x")));
    allowed.routes.set("/gone", (_req, res) => res.writeHead(410).end("gone"));
    allowed.routes.set("/to-target", (_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${target.port}/` }).end());
    allowed.routes.set("/to-rebind", (_req, res) => res.writeHead(302, { location: "http://rebind.example.com/" }).end());
    allowed.routes.set("/trickle", (_req, res) => {
      res.writeHead(200);
      const drip = setInterval(() => res.write("."), 20);
      res.on("close", () => clearInterval(drip));
    });
  });

  afterAll(async () => {
    for (const a of agents) a.destroy();
    await Promise.all([allowed?.close(), target?.close()]);
  });

  it("follows redirects itself, sends no cookie it was given, and names itself", async () => {
    const response = await fetchOutbound(`http://127.0.0.1:${allowed.port}/cookie-then-page`, options());
    expect(response.status).toBe(200);
    expect(response.url.pathname).toBe("/page");
    expect(response.body.toString()).toBe("<title>hi</title>");
    const hops = allowed.requests.slice(-2);
    expect(hops.map((r) => r.path)).toEqual(["/cookie-then-page", "/page"]);
    for (const { headers } of hops) {
      expect(headers.cookie).toBeUndefined();
      expect(headers["user-agent"]).toBe("ParleyTest/1.0");
      expect(headers["accept-encoding"]).toBe("identity");
    }
  });

  it("gives up after maxRedirects", async () => {
    await expect(fetchOutbound(`http://127.0.0.1:${allowed.port}/hop/0`, options({ maxRedirects: 5 }))).rejects.toMatchObject({ reason: "redirects" });
    expect(allowed.requests.filter((r) => r.path.startsWith("/hop/")).map((r) => r.path)).toEqual(["/hop/0", "/hop/1", "/hop/2", "/hop/3", "/hop/4", "/hop/5"]);
  });

  it("checks every hop: a redirect to a host:port that is not allowed is refused before any request to it", async () => {
    await expect(fetchOutbound(`http://127.0.0.1:${allowed.port}/to-target`, options())).rejects.toMatchObject({ problem: "port" });
    expect(target.requests).toEqual([]);
  });

  it("checks what a name resolves to when connecting (a public-looking name that points at loopback is refused)", async () => {
    const rebinding = createOutboundAgents([`127.0.0.1:${allowed.port}`], { keepAlive: false, label: "link", resolve: resolverFrom({ "rebind.example.com": "127.0.0.1" }) });
    agents.push(rebinding);
    const error = await fetchOutbound(`http://127.0.0.1:${allowed.port}/to-rebind`, options({ agents: rebinding })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboundRefused);
    expect((error as Error).message).toBe("link: rebind.example.com resolves to 127.0.0.1, a loopback address");
    // And with the URL rules letting the name through on the target's port, the connection is still refused.
    const lenient = options({ agents: rebinding, rules: { label: "link", schemes: ["http:"], allowedHosts: [`rebind.example.com:${target.port}`] } });
    await expect(fetchOutbound(`http://rebind.example.com:${target.port}/`, lenient)).rejects.toMatchObject({ problem: "forbidden_address" });
    expect(target.requests).toEqual([]);
  });

  it("stops reading at maxBytes and says the body was cut", async () => {
    const response = await fetchOutbound(`http://127.0.0.1:${allowed.port}/big`, options({ maxBytes: 4096 }));
    expect(response.truncated).toBe(true);
    expect(response.body.length).toBe(4096);
    const whole = await fetchOutbound(`http://127.0.0.1:${allowed.port}/big`, options({ maxBytes: 200_000 }));
    expect([whole.truncated, whole.body.length]).toEqual([false, 100_000]);
  });

  it("gives up on an answer that does not complete within the time limit", async () => {
    const error = await fetchOutbound(`http://127.0.0.1:${allowed.port}/trickle`, options({ timeoutMs: 300, maxBytes: 1_000_000 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboundFetchError);
    expect(error).toMatchObject({ reason: "timeout" });
  });

  it("treats an error status as a failure, not a page", async () => {
    await expect(fetchOutbound(`http://127.0.0.1:${allowed.port}/gone`, options())).rejects.toMatchObject({ reason: "status", message: expect.stringContaining("410") });
  });
});
