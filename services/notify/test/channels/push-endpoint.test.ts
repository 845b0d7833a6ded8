import http from "node:http";
import type { AddressInfo } from "node:net";
import type dns from "node:dns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkPushEndpoint,
  createPushAgents,
  createPushLookup,
  forbiddenAddressReason,
  parseAllowedHosts,
  parseIPv4,
  parseIPv6,
  PushEndpointError,
} from "../../src/channels/push-endpoint.js";

function problemOf(url: string, allowed: readonly string[] = []): string {
  try {
    checkPushEndpoint(url, allowed);
    return "accepted";
  } catch (error) {
    expect(error).toBeInstanceOf(PushEndpointError);
    return (error as PushEndpointError).problem;
  }
}

describe("checkPushEndpoint", () => {
  it.each([
    "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABf",
    "https://web.push.apple.com/QGuQyavXutnMH",
    "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA",
    "https://fcm.googleapis.com:443/fcm/send/x", // the default port spelled out
    "https://FCM.GoogleAPIs.com./fcm/send/x", // case and a trailing dot
    "https://8.8.8.8/push", // a public address
    "https://172.32.0.1/push", // just past 172.16/12
    "https://100.128.0.1/push", // just past 100.64/10
    "https://[2606:4700:4700::1111]/push",
    "https://[::ffff:8.8.8.8]/push", // IPv4-mapped public
  ])("accepts %s", (url) => {
    const parsed = checkPushEndpoint(url, []);
    expect(parsed).toBeInstanceOf(URL);
    expect(parsed.protocol).toBe("https:");
  });

  it("gives back the parsed URL", () => {
    const parsed = checkPushEndpoint("https://fcm.googleapis.com/fcm/send/abc?x=1", []);
    expect(parsed.origin).toBe("https://fcm.googleapis.com");
    expect(parsed.pathname).toBe("/fcm/send/abc");
  });

  it.each([
    ["", "invalid_url"],
    ["not a url", "invalid_url"],
    ["/relative/path", "invalid_url"],
    ["https://", "invalid_url"],
    ["http://fcm.googleapis.com/fcm/send/x", "scheme"],
    ["ftp://fcm.googleapis.com/x", "scheme"],
    ["javascript:alert(1)", "scheme"],
    ["data:text/plain,hi", "scheme"],
    ["file:///etc/passwd", "scheme"],
    ["ws://push.example.com/x", "scheme"],
    ["https://user@fcm.googleapis.com/x", "credentials"],
    ["https://user:secret@fcm.googleapis.com/x", "credentials"],
    ["https://:secret@fcm.googleapis.com/x", "credentials"],
    ["https://fcm.googleapis.com:8443/x", "port"],
    ["https://fcm.googleapis.com:80/x", "port"],
    [`https://fcm.googleapis.com/${"a".repeat(2048)}`, "too_long"],
  ])("refuses %s (%s)", (url, problem) => {
    expect(problemOf(url)).toBe(problem);
  });

  it.each([
    "https://localhost/x",
    "https://LOCALHOST/x",
    "https://localhost./x",
    "https://push.localhost/x",
    "https://printer.local/x",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://metadata/x",
    "https://instance-data/latest/meta-data/",
    "https://db.internal/x",
    "https://router.home.arpa/x",
    "https://intranet/x", // a single label: the resolver's search domains
    "https://nas.lan/x",
  ])("refuses the local name %s", (url) => {
    expect(problemOf(url)).toBe("local_name");
  });

  it.each([
    // IPv4, every spelling the URL parser (and inet_aton) accepts
    ["https://127.0.0.1/", "loopback"],
    ["https://127.1/", "loopback"],
    ["https://127.0.1/", "loopback"],
    ["https://2130706433/", "loopback"], // decimal
    ["https://0x7f000001/", "loopback"], // hex
    ["https://0x7f.0.0.1/", "loopback"], // hex part
    ["https://0177.0.0.1/", "loopback"], // octal
    ["https://017700000001/", "loopback"], // octal whole
    ["https://127.000.000.001/", "loopback"],
    ["https://0.0.0.0/", "unspecified"],
    ["https://0/", "unspecified"],
    ["https://0.1.2.3/", "this network"],
    ["https://10.0.0.1/", "private"],
    ["https://10.255.255.255/", "private"],
    ["https://172.16.0.1/", "private"],
    ["https://172.31.255.254/", "private"],
    ["https://192.168.1.1/", "private"],
    ["https://3232235777/", "private"], // 192.168.1.1 decimal
    ["https://169.254.1.1/", "link-local"],
    ["https://169.254.169.254/", "cloud metadata"],
    ["https://0xa9fea9fe/", "cloud metadata"], // 169.254.169.254 hex
    ["https://169.254.43518/", "cloud metadata"], // 169.254.169.254, last part fills two bytes
    ["https://168.63.129.16/", "cloud metadata (Azure)"],
    ["https://100.100.100.200/", "cloud metadata (Alibaba)"],
    ["https://100.64.0.1/", "CGNAT"],
    ["https://100.127.255.254/", "CGNAT"],
    ["https://192.0.0.192/", "IETF protocol assignment"],
    ["https://192.0.2.1/", "documentation"],
    ["https://198.18.0.1/", "benchmarking"],
    ["https://224.0.0.1/", "multicast"],
    ["https://239.255.255.250/", "multicast"],
    ["https://240.0.0.1/", "reserved"],
    ["https://255.255.255.255/", "broadcast"],
    // IPv6
    ["https://[::1]/", "loopback"],
    ["https://[0:0:0:0:0:0:0:1]/", "loopback"],
    ["https://[0000::0001]/", "loopback"],
    ["https://[::]/", "unspecified"],
    ["https://[::ffff:127.0.0.1]/", "IPv4-mapped loopback"],
    ["https://[::ffff:7f00:1]/", "IPv4-mapped loopback"],
    ["https://[::ffff:10.1.2.3]/", "IPv4-mapped private"],
    ["https://[::ffff:169.254.169.254]/", "IPv4-mapped cloud metadata"],
    ["https://[::ffff:0:127.0.0.1]/", "IPv4-translated loopback"],
    ["https://[::127.0.0.1]/", "IPv4-compatible loopback"],
    ["https://[::8.8.8.8]/", "IPv4-compatible (deprecated)"],
    ["https://[64:ff9b::127.0.0.1]/", "NAT64 loopback"],
    ["https://[64:ff9b::a9fe:a9fe]/", "NAT64 cloud metadata"],
    ["https://[64:ff9b:1::1]/", "local NAT64"],
    ["https://[2002:7f00:1::1]/", "6to4 loopback"],
    ["https://[2002:0808:0808::1]/", "6to4 (deprecated)"],
    ["https://[fe80::1]/", "link-local"],
    ["https://[febf:ffff::1]/", "link-local"],
    ["https://[fec0::1]/", "site-local"],
    ["https://[fc00::1]/", "unique-local"],
    ["https://[fd12:3456:789a::1]/", "unique-local"],
    ["https://[fd00:ec2::254]/", "cloud metadata (AWS)"],
    ["https://[ff02::1]/", "multicast"],
    ["https://[ff05::1:3]/", "multicast"],
    ["https://[100::1]/", "discard-only"],
    ["https://[2001::1]/", "Teredo"],
    ["https://[2001:db8::1]/", "documentation"],
    ["https://[3fff::1]/", "documentation"],
    ["https://[4000::1]/", "reserved"],
  ])("refuses %s as %s", (url, reason) => {
    try {
      checkPushEndpoint(url, []);
      expect.unreachable(`${url} was accepted`);
    } catch (error) {
      expect(error).toBeInstanceOf(PushEndpointError);
      expect((error as PushEndpointError).problem).toBe("forbidden_address");
      expect((error as Error).message).toContain(reason);
    }
  });

  it("allows http, other ports and private addresses only for allow-listed hosts", () => {
    expect(problemOf("http://127.0.0.1:4000/push", ["127.0.0.1"])).toBe("accepted");
    expect(problemOf("http://127.0.0.1:4000/push", ["127.0.0.1:4000"])).toBe("accepted");
    expect(problemOf("http://127.0.0.1:4000/push", ["127.0.0.1:4001"])).toBe("scheme");
    expect(problemOf("https://127.0.0.1:4000/push", ["127.0.0.1:4001"])).toBe("port");
    expect(problemOf("https://127.0.0.1/push", ["10.0.0.1"])).toBe("forbidden_address");
    expect(problemOf("http://[::1]:9000/push", ["[::1]"])).toBe("accepted");
    expect(problemOf("http://[::1]:9000/push", ["::1"])).toBe("accepted");
    expect(problemOf("http://[::1]:9000/push", ["[::1]:9000"])).toBe("accepted");
    expect(problemOf("http://LocalHost:9000/push", ["localhost"])).toBe("accepted");
    expect(problemOf("https://push.corp.example.com:8443/x", ["Push.Corp.Example.com."])).toBe("accepted");
    // the allow-list never excuses credentials or another scheme
    expect(problemOf("http://u:p@127.0.0.1:4000/push", ["127.0.0.1"])).toBe("credentials");
    expect(problemOf("ftp://127.0.0.1/push", ["127.0.0.1"])).toBe("scheme");
    // an allow-listed name does not allow what its spelling as an address would be
    expect(problemOf("https://2130706433/", ["localhost"])).toBe("forbidden_address");
  });

  it("parses NOTIFY_PUSH_ALLOWED_HOSTS", () => {
    expect(parseAllowedHosts(undefined)).toEqual([]);
    expect(parseAllowedHosts("")).toEqual([]);
    expect(parseAllowedHosts(" 127.0.0.1:4000, push.example.com ,,[::1]")).toEqual(["127.0.0.1:4000", "push.example.com", "[::1]"]);
  });

  it("says why in a clear message", () => {
    expect(() => checkPushEndpoint("http://fcm.googleapis.com/x", [])).toThrow("push endpoint: must be an https URL (got http:)");
    expect(() => checkPushEndpoint("https://10.0.0.1/x", [])).toThrow("push endpoint: 10.0.0.1 is a private address");
    expect(() => checkPushEndpoint("https://a:b@x.example.com/", [])).toThrow(/user name or password/);
  });
});

describe("address parsing", () => {
  it("reads inet_aton's IPv4 forms", () => {
    const dotted = (n: number | null) => (n === null ? null : [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join("."));
    expect(dotted(parseIPv4("127.0.0.1"))).toBe("127.0.0.1");
    expect(dotted(parseIPv4("2130706433"))).toBe("127.0.0.1");
    expect(dotted(parseIPv4("0x7F000001"))).toBe("127.0.0.1");
    expect(dotted(parseIPv4("0177.1"))).toBe("127.0.0.1");
    expect(dotted(parseIPv4("10.1"))).toBe("10.0.0.1");
    expect(dotted(parseIPv4("192.168.257"))).toBe("192.168.1.1");
    expect(dotted(parseIPv4("0x"))).toBe("0.0.0.0");
    expect(parseIPv4("256.0.0.1")).toBeNull();
    expect(parseIPv4("1.2.3.4.5")).toBeNull();
    expect(parseIPv4("08.0.0.1")).toBeNull(); // 8 is not an octal digit
    expect(parseIPv4("4294967296")).toBeNull();
    expect(parseIPv4("example.com")).toBeNull();
    expect(parseIPv4("1.2.3.4a")).toBeNull();
  });

  it("reads IPv6 forms", () => {
    expect(Array.from(parseIPv6("::1")!)).toEqual([...new Array(15).fill(0), 1]);
    expect(Array.from(parseIPv6("[::ffff:1.2.3.4]")!).slice(10)).toEqual([0xff, 0xff, 1, 2, 3, 4]);
    expect(parseIPv6("fe80::1%eth0")![0]).toBe(0xfe);
    expect(parseIPv6("1:2:3:4:5:6:7:8")![15]).toBe(8);
    expect(parseIPv6("1::2::3")).toBeNull();
    expect(parseIPv6("1:2:3:4:5:6:7:8:9")).toBeNull();
    expect(parseIPv6("1:2:3:4:5:6:7")).toBeNull();
    expect(parseIPv6("::1.2.3")).toBeNull();
    expect(parseIPv6("12345::")).toBeNull();
    expect(parseIPv6("127.0.0.1")).toBeNull();
  });

  it("classifies the addresses a resolver gives back", () => {
    expect(forbiddenAddressReason("8.8.8.8")).toBeNull();
    expect(forbiddenAddressReason("2a00:1450:4007:80e::200a")).toBeNull();
    expect(forbiddenAddressReason("127.0.0.53")).toBe("loopback");
    expect(forbiddenAddressReason("::ffff:192.168.0.1")).toBe("IPv4-mapped private");
    expect(forbiddenAddressReason("fe80::1%2")).toBe("link-local");
    expect(forbiddenAddressReason("push.example.com")).toBe("not an IP address");
  });
});

/** A resolver answering from a table, counting its calls (a DNS server that rebinds). */
function resolverFrom(answers: Record<string, Array<Array<[string, 4 | 6]>>>) {
  const calls: Record<string, number> = {};
  const resolve = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => {
    const n = (calls[hostname] = (calls[hostname] ?? 0) + 1);
    const list = answers[hostname];
    const answer = list?.[Math.min(n, list.length) - 1];
    if (!answer) {
      const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      error.code = "ENOTFOUND";
      return setImmediate(() => callback(error, []));
    }
    setImmediate(() => callback(null, answer.map(([address, family]) => ({ address, family }))));
  };
  return { resolve, calls };
}

function lookupOnce(lookup: ReturnType<typeof createPushLookup>, host: string, all: boolean) {
  return new Promise<{ address: string | dns.LookupAddress[]; family?: number }>((resolve, reject) =>
    lookup(host, { all }, (err, address, family) => (err ? reject(err) : resolve({ address, family }))),
  );
}

describe("createPushLookup", () => {
  const { resolve } = resolverFrom({
    "push.example.com": [[["93.184.216.34", 4], ["2606:2800:220:1:248:1893:25c8:1946", 6]]],
    "evil.example.com": [[["10.0.0.5", 4]]],
    "mixed.example.com": [[["93.184.216.34", 4], ["127.0.0.1", 4]]],
    "mapped.example.com": [[["::ffff:169.254.169.254", 6]]],
    "push.corp.example": [[["10.1.2.3", 4]]],
  });
  const lookup = createPushLookup(["push.corp.example"], { resolve });

  it("passes public addresses through, one or all", async () => {
    expect(await lookupOnce(lookup, "push.example.com", false)).toEqual({ address: "93.184.216.34", family: 4 });
    expect((await lookupOnce(lookup, "push.example.com", true)).address).toHaveLength(2);
  });

  it.each(["evil.example.com", "mixed.example.com", "mapped.example.com"])("refuses %s (a forbidden address among its answers)", async (host) => {
    await expect(lookupOnce(lookup, host, true)).rejects.toMatchObject({ problem: "forbidden_address", code: "EPUSHENDPOINT" });
  });

  it("lets an allow-listed host resolve to anything", async () => {
    expect(await lookupOnce(lookup, "push.corp.example", false)).toEqual({ address: "10.1.2.3", family: 4 });
  });

  it("passes resolver errors on", async () => {
    await expect(lookupOnce(lookup, "nowhere.example.com", false)).rejects.toMatchObject({ code: "ENOTFOUND" });
  });
});

describe("createPushAgents: the connection actually made", () => {
  let server: http.Server;
  let port = 0;
  let requests = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests++;
      res.writeHead(201).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  function post(url: string, agent: http.Agent): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: "POST", agent }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      });
      req.on("error", reject);
      req.end("payload");
    });
  }

  it("refuses a name that was public when checked and rebinds to loopback when used (DNS rebinding)", async () => {
    // The check at AddPushSubscription resolves nothing: the name is public.
    const endpoint = `http://rebind.example.com:${port}/push`;
    expect(checkPushEndpoint(endpoint, ["rebind.example.com:" + port]).hostname).toBe("rebind.example.com");
    const { resolve, calls } = resolverFrom({ "rebind.example.com": [[["93.184.216.34", 4]], [["127.0.0.1", 4]]] });
    // http (not https) and the port need the allow-list at check time; the connection-time check is
    // the one under test, so the agent gets no allow-list.
    const agents = createPushAgents([], { resolve, keepAlive: false });
    const lookup = agents.lookup;
    expect(await lookupOnce(lookup, "rebind.example.com", false)).toEqual({ address: "93.184.216.34", family: 4 });
    const before = requests;
    await expect(post(endpoint, agents.http)).rejects.toMatchObject({ problem: "forbidden_address" });
    expect(calls["rebind.example.com"]).toBe(2);
    expect(requests).toBe(before);
    agents.destroy();
  });

  it("refuses an address literal on the socket itself (no lookup happens for one)", async () => {
    const agents = createPushAgents([], { keepAlive: false });
    const before = requests;
    await expect(post(`http://127.0.0.1:${port}/push`, agents.http)).rejects.toMatchObject({ problem: "forbidden_address" });
    await expect(post(`http://[::ffff:127.0.0.1]:${port}/push`, agents.http)).rejects.toMatchObject({ problem: "forbidden_address" });
    expect(requests).toBe(before);
    agents.destroy();
  });

  it("connects to an allow-listed host, by name or address", async () => {
    const { resolve } = resolverFrom({ "sink.test.example": [[["127.0.0.1", 4]]] });
    const agents = createPushAgents(["127.0.0.1", "sink.test.example"], { resolve });
    expect(await post(`http://127.0.0.1:${port}/push`, agents.http)).toBe(201);
    expect(await post(`http://sink.test.example:${port}/push`, agents.http)).toBe(201);
    agents.destroy();
  });

  it("gives an https agent with the same lookup", () => {
    const agents = createPushAgents([]);
    expect(agents.https.options.lookup).toBe(agents.lookup);
    agents.destroy();
  });
});
