// Field rules shared by every layer that checks them (services, edge, web).
import { z } from "zod";

export const NUL_RULE = "must not contain NUL characters";

/** Text PostgreSQL can store: no NUL characters. */
export const text = () => z.string().refine((value) => !value.includes("\u0000"), NUL_RULE);

/**
 * The path of the first string inside `value` that holds a NUL (`""` for `value` itself), or
 * undefined. PostgreSQL refuses NUL in text, so every input is checked once, whole, where it
 * enters (each service's gRPC server, the edge's procedures) instead of field by field.
 */
export function pathOfNul(value: unknown, path = ""): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (typeof value !== "object" || value === null || ArrayBuffer.isView(value)) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const found = pathOfNul(item, path ? `${path}.${key}` : key);
    if (found !== undefined) return found;
  }
  return undefined;
}

// Whitespace, controls, format characters (zero-width spaces and joiners, bidi marks, BOM),
// variation selectors and the blank "letters" (Hangul fillers, braille blank) show nothing.
const VISIBLE = /[^\s\p{Cc}\p{Cf}\p{Zs}\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180F\u2800\u3164\uFE00-\uFE0F\uFFA0\u{E0100}-\u{E01EF}]/u;

/** True when `value` shows at least one character: not only blanks and invisible characters. */
export function hasVisibleCharacter(value: string): boolean {
  return VISIBLE.test(value);
}

export const USERNAME_RULE = "3-32 letters, digits, '_', '.' or '-'";
export const rules = {
  username: z.string().regex(/^[A-Za-z0-9_.-]{3,32}$/, USERNAME_RULE),
  email: z.string().max(254, "at most 254 characters").email("must be a valid email address"),
  displayName: text().pipe(z.string().trim().min(1, "must not be empty").max(64, "at most 64 characters")),
  avatarUrl: z.union([
    z.literal(""),
    z
      .string()
      .max(2048, "at most 2048 characters")
      .url("must be an http(s) URL")
      .refine((v) => /^https?:\/\//i.test(v), "must be an http(s) URL"),
  ]),
  statusText: text().pipe(z.string().trim().max(140, "at most 140 characters")),
  uuid: z.string().uuid("must be a UUID"),
};
