// SSRF rules for every request the server makes to a URL someone else chose (issue 18: Web Push
// endpoints; issue 19: link previews). Anyone who can sign in could otherwise point the server at
// an internal address (a database's HTTP port, a cloud metadata service):
//
// - checkOutboundUrl(url, rules) before each request (and each redirect hop): an allowed scheme,
//   the scheme's default port, no credentials, a host that is neither an address of a private,
//   loopback, link-local, unique-local, multicast, CGNAT, unspecified, reserved or cloud-metadata
//   range (IPv4, IPv6, IPv4-mapped/-compatible/NAT64/6to4, and the decimal/octal/hex IPv4
//   spellings) nor a local name (localhost, *.local, *.internal, single labels ...).
// - createOutboundAgents(allowedHosts) for the connection itself: the name is resolved when
//   connecting and every address it resolves to is checked, then the address actually connected to
//   is checked again, so a name that resolved to a public address when checked and to 127.0.0.1
//   when used (DNS rebinding) is refused.
//
// allowedHosts (NOTIFY_PUSH_ALLOWED_HOSTS, LINK_PREVIEW_ALLOWED_HOSTS: comma-separated) lets
// operators and tests reach other hosts: an entry "host" allows that host on any port and over http
// too, with any address; an entry "host:port" ("[::1]:8443") allows that host on that port only.
// Hosts compare case-insensitively, without a trailing dot, IPv6 in brackets or not.
import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import type { LookupFunction, Socket } from "node:net";
import type { Duplex } from "node:stream";

export type OutboundProblem =
  | "invalid_url"
  | "too_long"
  | "scheme"
  | "credentials"
  | "port"
  | "local_name"
  | "forbidden_address";

/** Why a URL (or the address it resolved to) may not be contacted; `message` is safe to show. */
export class OutboundRefused extends Error {
  override readonly name: string = "OutboundRefused";
  /** For connection-time refusals, so node's socket error handling treats it like other errnos. */
  readonly code: string = "EOUTBOUND";
  constructor(
    readonly problem: OutboundProblem,
    message: string,
  ) {
    super(message);
  }
}

/** Makes the error a refusal throws: a caller's own subclass (notify's PushEndpointError). */
export type RefusalFactory = (problem: OutboundProblem, message: string) => Error;

const defaultRefusal: RefusalFactory = (problem, message) => new OutboundRefused(problem, message);

export interface OutboundRules {
  /** Names the URL in messages: "push endpoint", "link". */
  label: string;
  /** Schemes allowed for any host, e.g. ["https:"]; allow-listed hosts may use http: and https:. */
  schemes: readonly ("http:" | "https:")[];
  /** Entries "host" or "host:port" (parseAllowedHosts). */
  allowedHosts: readonly string[];
  /** The longest URL accepted (default 2048). */
  maxLength?: number;
  refusal?: RefusalFactory;
}

/** "a.example, b.example:8443" (an *_ALLOWED_HOSTS variable) -> ["a.example", "b.example:8443"]. */
export function parseAllowedHosts(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/** Checks a URL by the rules and returns it parsed; throws the rules' refusal naming the rule it breaks. */
export function checkOutboundUrl(url: string, rules: OutboundRules): URL {
  const { label, allowedHosts } = rules;
  const refuse = rules.refusal ?? defaultRefusal;
  const maxLength = rules.maxLength ?? 2048;
  const schemes = rules.schemes;
  const schemeRule = () => `must be ${schemes.length === 1 ? `an ${schemes[0]!.slice(0, -1)}` : `an ${schemes.map((s) => s.slice(0, -1)).join(" or ")}`} URL`;
  if (typeof url !== "string" || url === "") throw refuse("invalid_url", `${label}: must be a URL`);
  if (url.length > maxLength) throw refuse("too_long", `${label}: at most ${maxLength} characters`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw refuse("invalid_url", `${label}: not a valid URL`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw refuse("scheme", `${label}: ${schemeRule()} (got ${parsed.protocol})`);
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw refuse("credentials", `${label}: must not contain a user name or password`);
  }
  const host = normalizeHost(parsed.hostname);
  if (host === "") throw refuse("invalid_url", `${label}: has no host`);
  if (isAllowedHost(host, parsed.port, allowedHosts)) return parsed;

  if (!(schemes as readonly string[]).includes(parsed.protocol)) {
    throw refuse("scheme", `${label}: ${schemeRule()} (got ${parsed.protocol})`);
  }
  if (parsed.port !== "") {
    throw refuse("port", `${label}: must use the default ${parsed.protocol.slice(0, -1)} port (got ${parsed.port})`);
  }
  const address = parseIP(host);
  if (address) {
    const why = forbiddenRange(address);
    if (why) throw refuse("forbidden_address", `${label}: ${host} is a ${why} address`);
    return parsed;
  }
  const local = localName(host);
  if (local) throw refuse("local_name", `${label}: ${host} ${local}`);
  return parsed;
}

/** Whether `host` (a name or an address, any spelling) on `port` ("" for the default) is allow-listed. */
export function isAllowedHost(host: string, port: string, allowedHosts: readonly string[]): boolean {
  const wanted = normalizeHost(host);
  for (const entry of allowedHosts) {
    const { host: entryHost, port: entryPort } = splitHostPort(entry);
    if (entryHost === wanted && (entryPort === undefined || entryPort === port)) return true;
  }
  return false;
}

/**
 * The kind of range an address belongs to when it may not be contacted ("loopback", "private", ...),
 * or null for a public unicast address. Accepts any spelling an URL host may have: dotted, decimal,
 * octal or hex IPv4 ("2130706433", "0x7f.1", "0177.0.0.1"), IPv6 with or without brackets, IPv4
 * embedded in IPv6 (mapped, compatible, NAT64, 6to4). Not an address at all: "not an IP address".
 */
export function forbiddenAddressReason(address: string): string | null {
  const parsed = parseIP(normalizeHost(address));
  if (!parsed) return "not an IP address";
  return forbiddenRange(parsed);
}

// ---------- the connection ----------

/** What DNS is asked (dns.lookup with all: true by default); tests give a table (DNS is outside the system). */
export type OutboundResolver = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => void) => void;

export interface OutboundAgents {
  http: http.Agent;
  https: https.Agent;
  /** The lookup both agents use: resolves, then refuses forbidden addresses (unless allowed). */
  lookup: LookupFunction;
  /** Closes the agents' idle sockets. */
  destroy(): void;
}

export interface OutboundAgentOptions {
  /** Idle sockets are kept for the next request to the same host. Default true. */
  keepAlive?: boolean;
  /** Resolver, for tests (default dns.lookup). */
  resolve?: OutboundResolver;
  /** Names the target in messages (default "outbound request"). */
  label?: string;
  refusal?: RefusalFactory;
}

/**
 * A lookup (for net.connect / http.Agent) that resolves `hostname` and refuses it when any of its
 * addresses is forbidden, unless the host is allow-listed.
 */
export function createOutboundLookup(allowedHosts: readonly string[], options: Omit<OutboundAgentOptions, "keepAlive"> = {}): LookupFunction {
  const label = options.label ?? "outbound request";
  const refuse = options.refusal ?? defaultRefusal;
  const resolve: OutboundResolver = options.resolve ?? ((hostname, callback) => dns.lookup(hostname, { all: true, verbatim: true }, callback));
  return (hostname, lookupOptions, callback) => {
    const allowed = isAllowedName(hostname, allowedHosts);
    resolve(hostname, (err, found) => {
      if (err) return callback(err, "", 0);
      let addresses = found;
      const family = lookupOptions.family === "IPv4" ? 4 : lookupOptions.family === "IPv6" ? 6 : lookupOptions.family;
      if (family === 4 || family === 6) addresses = addresses.filter((a) => a.family === family);
      if (addresses.length === 0) {
        const error: NodeJS.ErrnoException = new Error(`${label}: ${hostname} has no address`);
        error.code = "ENOTFOUND";
        return callback(error, "", 0);
      }
      if (!allowed) {
        for (const { address } of addresses) {
          const why = forbiddenAddressReason(address);
          if (why) {
            return callback(refuse("forbidden_address", `${label}: ${hostname} resolves to ${address}, a ${why} address`) as NodeJS.ErrnoException, "", 0);
          }
        }
      }
      if (lookupOptions.all) return callback(null, addresses);
      const first = addresses[0]!;
      return callback(null, first.address, first.family);
    });
  };
}

/**
 * http and https agents for outbound requests. A name is resolved with createOutboundLookup
 * (refused before any connection when one of its addresses is forbidden); an address literal, which
 * node never looks up, is judged before a socket is made; and the address the socket actually
 * connected to is checked once more before anything is written.
 */
export function createOutboundAgents(allowedHosts: readonly string[], options: OutboundAgentOptions = {}): OutboundAgents {
  const label = options.label ?? "outbound request";
  const makeRefusal = options.refusal ?? defaultRefusal;
  const lookup = createOutboundLookup(allowedHosts, options);
  const keepAlive = options.keepAlive ?? true;
  /** An address literal is never looked up: judged here, before any socket exists. */
  const refuseLiteral = (host: string | null | undefined): Error | undefined => {
    const name = normalizeHost(host ?? "");
    if (isAllowedName(name, allowedHosts) || !parseIP(name)) return undefined;
    const why = forbiddenAddressReason(name);
    return why ? makeRefusal("forbidden_address", `${label}: ${name} is a ${why} address`) : undefined;
  };
  /** And whatever the socket connected to is checked again before anything is written. */
  const guard = (socket: Duplex | null | undefined, host: string | null | undefined) => {
    if (!socket) return socket;
    const name = host ?? "";
    if (!isAllowedName(name, allowedHosts)) {
      socket.once("connect", () => {
        const remote = (socket as Socket).remoteAddress;
        const why = remote ? forbiddenAddressReason(remote) : "unknown";
        if (why) {
          socket.destroy(makeRefusal("forbidden_address", `${label}: ${name} connected to ${remote ?? "?"}, a ${why} address`));
        }
      });
    }
    return socket;
  };
  const refuse = (error: Error, callback?: (err: Error | null, stream: Duplex) => void) => {
    if (!callback) throw error;
    process.nextTick(() => callback(error, undefined as unknown as Duplex));
    return undefined;
  };
  /** Both agents' connection: a literal address is checked before connecting, the socket once connected. */
  const connectGuarded = (
    connectOptions: http.ClientRequestArgs,
    callback: ((err: Error | null, stream: Duplex) => void) | undefined,
    connect: () => Duplex | null | undefined,
  ): Duplex | null | undefined => {
    const host = connectOptions.hostname ?? connectOptions.host;
    const refused = refuseLiteral(host);
    if (refused) return refuse(refused, callback);
    return guard(connect(), host);
  };
  class GuardedHttpAgent extends http.Agent {
    override createConnection(connectOptions: http.ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
      return connectGuarded(connectOptions, callback, () => super.createConnection(connectOptions, callback));
    }
  }
  class GuardedHttpsAgent extends https.Agent {
    override createConnection(connectOptions: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
      return connectGuarded(connectOptions, callback, () => super.createConnection(connectOptions, callback));
    }
  }
  const httpAgent = new GuardedHttpAgent({ keepAlive, lookup });
  const httpsAgent = new GuardedHttpsAgent({ keepAlive, lookup });
  return {
    http: httpAgent,
    https: httpsAgent,
    lookup,
    destroy() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

// ---------- names ----------

/** At connection time the port is the URL's, already checked: an entry allows its host. */
function isAllowedName(host: string, allowedHosts: readonly string[]): boolean {
  const wanted = normalizeHost(host);
  return allowedHosts.some((entry) => splitHostPort(entry).host === wanted);
}

/** Lower case, no brackets around IPv6, no trailing dot. */
function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  while (h.endsWith(".")) h = h.slice(0, -1);
  return h;
}

function splitHostPort(entry: string): { host: string; port: string | undefined } {
  const e = entry.trim().toLowerCase();
  if (e.startsWith("[")) {
    const close = e.indexOf("]");
    const host = e.slice(1, close < 0 ? undefined : close);
    const rest = close < 0 ? "" : e.slice(close + 1);
    return { host: normalizeHost(host), port: rest.startsWith(":") ? rest.slice(1) : undefined };
  }
  const colons = e.split(":").length - 1;
  if (colons === 1) {
    const [host, port] = e.split(":") as [string, string];
    return { host: normalizeHost(host), port };
  }
  return { host: normalizeHost(e), port: undefined }; // a name, or a bare IPv6 address
}

const LOCAL_SUFFIXES = ["localhost", "local", "localdomain", "internal", "intranet", "lan", "home", "corp", "home.arpa", "arpa", "onion", "test", "invalid", "example"];
const METADATA_NAMES = ["metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal", "metadata.azure.com"];

function localName(host: string): string | null {
  if (METADATA_NAMES.includes(host)) return "is a cloud metadata service";
  if (!host.includes(".")) return "is not a public host name (a single label)";
  for (const suffix of LOCAL_SUFFIXES) {
    if (host === suffix || host.endsWith(`.${suffix}`)) return `is not a public host name (.${suffix})`;
  }
  return null;
}

// ---------- addresses ----------

type IP = { v: 4; n: number } | { v: 6; bytes: Uint8Array };

function parseIP(host: string): IP | null {
  const v4 = parseIPv4(host);
  if (v4 !== null) return { v: 4, n: v4 };
  const v6 = parseIPv6(host);
  if (v6) return { v: 6, bytes: v6 };
  return null;
}

/**
 * inet_aton's (and the URL standard's) IPv4 spellings: 1 to 4 parts, each decimal, octal (leading
 * 0) or hex (0x); the last part fills the remaining bytes. Null when not an IPv4 address.
 */
export function parseIPv4(text: string): number | null {
  let s = text;
  if (s.endsWith(".")) s = s.slice(0, -1);
  if (s === "") return null;
  const parts = s.split(".");
  if (parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0x[0-9a-f]*$/i.test(part)) value = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
    else if (/^0[0-7]+$/.test(part)) value = parseInt(part.slice(1), 8);
    else if (/^(0|[1-9][0-9]*)$/.test(part)) value = Number(part);
    else return null;
    if (!Number.isSafeInteger(value)) return null;
    numbers.push(value);
  }
  const last = numbers.pop()!;
  for (const n of numbers) if (n > 255) return null;
  if (last >= 256 ** (4 - numbers.length)) return null;
  let result = last;
  numbers.forEach((n, i) => {
    result += n * 256 ** (3 - i);
  });
  return result >>> 0;
}

/** 16 bytes, or null. Accepts "::", an embedded dotted IPv4 tail, and a zone ("%eth0"). */
export function parseIPv6(text: string): Uint8Array | null {
  let s = text;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(":")) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const toGroups = (part: string): number[] | null => {
    if (part === "") return [];
    const pieces = part.split(":");
    const groups: number[] = [];
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes(".")) {
        if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(piece)) return null;
        const octets = piece.split(".").map(Number);
        if (octets.some((o) => o > 255)) return null;
        groups.push((octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!);
      } else {
        if (!/^[0-9a-f]{1,4}$/i.test(piece)) return null;
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };
  const head = toGroups(halves[0]!);
  const tail = halves.length === 2 ? toGroups(halves[1]!) : [];
  if (!head || !tail) return null;
  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

const ip4 = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** [network, prefix length, what it is]: every IPv4 range that is not public unicast. */
const IPV4_RANGES: Array<[number, number, string]> = [
  [ip4(168, 63, 129, 16), 32, "cloud metadata (Azure)"],
  [ip4(169, 254, 169, 254), 32, "cloud metadata"],
  [ip4(100, 100, 100, 200), 32, "cloud metadata (Alibaba)"],
  [ip4(0, 0, 0, 0), 32, "unspecified"],
  [ip4(0, 0, 0, 0), 8, "\"this network\" (reserved)"],
  [ip4(10, 0, 0, 0), 8, "private"],
  [ip4(100, 64, 0, 0), 10, "CGNAT (shared)"],
  [ip4(127, 0, 0, 0), 8, "loopback"],
  [ip4(169, 254, 0, 0), 16, "link-local"],
  [ip4(172, 16, 0, 0), 12, "private"],
  [ip4(192, 0, 0, 0), 24, "IETF protocol assignment (reserved)"],
  [ip4(192, 0, 2, 0), 24, "documentation (reserved)"],
  [ip4(192, 88, 99, 0), 24, "6to4 relay (reserved)"],
  [ip4(192, 168, 0, 0), 16, "private"],
  [ip4(198, 18, 0, 0), 15, "benchmarking (reserved)"],
  [ip4(198, 51, 100, 0), 24, "documentation (reserved)"],
  [ip4(203, 0, 113, 0), 24, "documentation (reserved)"],
  [ip4(224, 0, 0, 0), 4, "multicast"],
  [ip4(255, 255, 255, 255), 32, "broadcast"],
  [ip4(240, 0, 0, 0), 4, "reserved"],
];

function forbiddenIPv4(n: number): string | null {
  for (const [network, prefix, what] of IPV4_RANGES) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if (((n & mask) >>> 0) === network) return what;
  }
  return null;
}

function hasPrefix(bytes: Uint8Array, prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const take = Math.min(8, bits - i);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((bytes[i / 8]! ^ (prefix[i / 8] ?? 0)) & mask) !== 0) return false;
  }
  return true;
}

const v4At = (bytes: Uint8Array, at: number) => ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;

function forbiddenIPv6(b: Uint8Array): string | null {
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 16)) return "unspecified";
  if (zeros(0, 15) && b[15] === 1) return "loopback";
  // IPv4-mapped ::ffff:a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d: the IPv4 rules.
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return mapped(forbiddenIPv4(v4At(b, 12)), "IPv4-mapped");
  if (zeros(0, 8) && b[8] === 0xff && b[9] === 0xff && zeros(10, 12)) return mapped(forbiddenIPv4(v4At(b, 12)), "IPv4-translated");
  // IPv4-compatible ::a.b.c.d (deprecated).
  if (zeros(0, 12)) return mapped(forbiddenIPv4(v4At(b, 12)), "IPv4-compatible") ?? "IPv4-compatible (deprecated)";
  // NAT64 64:ff9b::a.b.c.d reaches the embedded IPv4 address; 64:ff9b:1::/48 is local.
  if (hasPrefix(b, [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96)) return mapped(forbiddenIPv4(v4At(b, 12)), "NAT64");
  if (hasPrefix(b, [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48)) return "local NAT64";
  // 6to4 2002:aabb:ccdd::/48 reaches a.b.c.d.
  if (hasPrefix(b, [0x20, 0x02], 16)) return mapped(forbiddenIPv4(v4At(b, 2)), "6to4") ?? "6to4 (deprecated)";
  if (hasPrefix(b, [0xfd, 0x00, 0x0e, 0xc2], 32) && zeros(4, 14) && b[14] === 0x02 && b[15] === 0x54) return "cloud metadata (AWS)";
  if (hasPrefix(b, [0xfc], 7)) return "unique-local";
  if (hasPrefix(b, [0xfe, 0x80], 10)) return "link-local";
  if (hasPrefix(b, [0xfe, 0xc0], 10)) return "site-local (deprecated)";
  if (hasPrefix(b, [0xff], 8)) return "multicast";
  if (hasPrefix(b, [0x01, 0x00, 0, 0, 0, 0, 0, 0], 64)) return "discard-only (reserved)";
  if (hasPrefix(b, [0x20, 0x01, 0x00], 23)) return "IETF protocol assignment (Teredo, ORCHID ...)";
  if (hasPrefix(b, [0x20, 0x01, 0x0d, 0xb8], 32)) return "documentation (reserved)";
  if (hasPrefix(b, [0x3f, 0xff], 20)) return "documentation (reserved)";
  if (hasPrefix(b, [0x5f, 0x00], 16)) return "segment routing (reserved)";
  // Global unicast is 2000::/3; everything else is unassigned or reserved.
  if (!hasPrefix(b, [0x20], 3)) return "reserved";
  return null;
}

function mapped(reason: string | null, how: string): string | null {
  return reason === null ? null : `${how} ${reason}`;
}

function forbiddenRange(ip: IP): string | null {
  return ip.v === 4 ? forbiddenIPv4(ip.n) : forbiddenIPv6(ip.bytes);
}
