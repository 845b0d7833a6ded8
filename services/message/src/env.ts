import { env, serviceEnvShape } from "@parley/kit";
import { z } from "zod";

const unsetIfEmpty = (value: unknown) => (value === "" ? undefined : value);
const count = (fallback: number, min: number, max: number) => z.preprocess(unsetIfEmpty, z.coerce.number().int().min(min).max(max).default(fallback));

export const messageEnv = z.object({
  ...serviceEnvShape(3004),
  ROOM_SERVICE_ADDR: env.address("127.0.0.1:3003"),
  // @username mentions are resolved by the user service (issue 16).
  USER_SERVICE_ADDR: env.address("127.0.0.1:3002"),
  // --- link previews (issue 19, docs/files.md "Link previews") ---
  /** on: the server fetches the pages of the first links of each message (SSRF rules of docs/files.md); off: no outbound fetches. */
  LINK_PREVIEWS: z.preprocess(unsetIfEmpty, z.enum(["on", "off"]).default("on")),
  /**
   * Hosts the SSRF rules would refuse but the operator allows (an intranet wiki, the tests' local
   * pages on 127.0.0.1), comma-separated "host" (any port, http too, any address) or "host:port"
   * (that port only): the syntax of NOTIFY_PUSH_ALLOWED_HOSTS.
   */
  LINK_PREVIEW_ALLOWED_HOSTS: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .default("")
      .transform((value) =>
        value
          .split(",")
          .map((host) => host.trim().toLowerCase())
          .filter(Boolean),
      ),
  ),
  /** How many links of a message get a preview (the first ones). */
  LINK_PREVIEW_MAX_PER_MESSAGE: count(3, 0, 10),
  /** Each fetch (page, oEmbed document, image) as a whole, redirects included; connecting gets at most 5 s of it. */
  LINK_PREVIEW_TIMEOUT_MS: env.milliseconds(8_000),
  /** A page is read up to this many bytes and parsed as far as it came. */
  LINK_PREVIEW_MAX_BYTES: count(1024 * 1024, 1024, 64 * 1024 * 1024),
  /** A page's image larger than this is not re-hosted (the preview goes without it). */
  LINK_PREVIEW_IMAGE_MAX_BYTES: count(5 * 1024 * 1024, 1024, 64 * 1024 * 1024),
  /** How long a URL's preview is kept before its page is fetched again; a failure is kept a tenth of it (at most 10 minutes). */
  LINK_PREVIEW_CACHE_SECONDS: count(86_400, 0, 30 * 86_400),
});
export type MessageEnv = z.infer<typeof messageEnv>;
