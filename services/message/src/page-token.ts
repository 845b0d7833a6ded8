// The keyset page tokens of the service's lists (pins, threads, mentions, a room's files): the
// last row's (time, id), opaque to callers.
import { fail } from "@parley/kit";

export function encodeTimeToken(time: Date, id: string): string {
  return Buffer.from(`${time.toISOString()}|${id}`).toString("base64url");
}

export function decodeTimeToken(token: string): { time: Date; id: string } {
  const [time, id] = Buffer.from(token, "base64url").toString().split("|");
  const parsed = new Date(time ?? "");
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || Number.isNaN(parsed.getTime())) {
    throw fail.invalidArgument("page_token", "is not a token from a previous page");
  }
  return { time: parsed, id };
}
