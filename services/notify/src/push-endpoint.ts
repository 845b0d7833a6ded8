// The call site of the SSRF-safe push endpoint check. The check itself belongs to the channels
// (services/notify/src/channels/, branch h/notify-channels); until it is merged this is a strict
// local version with the same signature: https only, no credentials, a public host name (no
// literal private/loopback/link-local address, no single-label or .local/.internal names), unless
// the host (or host:port) is in `allowedHosts` (NOTIFY_PUSH_ALLOWED_HOSTS), which may also use http.
// Returns the problem, or undefined when the endpoint may be used.
import { isIP } from "node:net";

export async function checkPushEndpoint(url: string, allowedHosts: readonly string[]): Promise<string | undefined> {
  if (url.length > 2048) return "must be at most 2048 characters";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be an https URL";
  }
  const host = parsed.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const allowed = allowedHosts.includes(host) || allowedHosts.includes(parsed.host.toLowerCase());
  if (parsed.protocol !== "https:" && !(allowed && parsed.protocol === "http:")) return "must be an https URL";
  if (parsed.username || parsed.password) return "must not carry credentials";
  if (allowed) return undefined;
  if (isIP(host)) return "must name a public host, not an IP address";
  if (!host.includes(".") || /\.(local|localhost|internal|lan|home|corp|intranet)$/.test(host) || host === "localhost") {
    return "must name a public host";
  }
  return undefined;
}
