// Which X-Forwarded-For entries the edge believes: TRUST_PROXY as Express's `trust proxy`
// (a hop count or the proxies' addresses), resolved by proxy-addr, which Express itself uses.
import type { IncomingMessage } from "node:http";
import proxyAddr from "proxy-addr";
import { z } from "zod";

/** Decides whether the hop at `addr` (i = 0 is the socket's peer) is a proxy of ours. */
export type TrustProxy = (addr: string, i: number) => boolean;

const trustNothing: TrustProxy = () => false;

/**
 * TRUST_PROXY: empty, `false` or `0` trusts no proxy (the socket's peer is the client);
 * a number n trusts the n hops nearest the edge; otherwise a comma-separated list of
 * addresses, CIDRs or proxy-addr's names (loopback, linklocal, uniquelocal).
 * `true` is refused: in Express it trusts every hop, so the client would pick its own address.
 */
export const trustProxySetting = z
  .string()
  .optional()
  .transform((raw, ctx): TrustProxy => {
    const value = (raw ?? "").trim();
    if (value === "" || value === "false") return trustNothing;
    if (value === "true") {
      ctx.addIssue({
        code: "custom",
        message:
          "`true` would believe every X-Forwarded-For entry, which the client can write: give the number of proxies in front of the edge (1 behind the compose gateway or one ingress) or their addresses/CIDRs",
      });
      return z.NEVER;
    }
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      return hops === 0 ? trustNothing : (_addr, i) => i < hops;
    }
    try {
      return proxyAddr.compile(value.split(",").map((entry) => entry.trim()).filter(Boolean));
    } catch (error) {
      ctx.addIssue({ code: "custom", message: `a hop count or a list of proxy addresses/CIDRs: ${(error as Error).message}` });
      return z.NEVER;
    }
  });

/** The client's address: the right-most address that no trusted proxy added. */
export function clientAddressOf(req: IncomingMessage, trust: TrustProxy): string {
  if (!req.socket.remoteAddress) return "unknown";
  return proxyAddr(req, trust).slice(0, 64);
}
