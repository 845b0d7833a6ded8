// Field rules shared by every layer that checks them (services, edge, web).
import { z } from "zod";

/** Text PostgreSQL can store: no NUL characters. */
export const text = () => z.string().refine((value) => !value.includes("\u0000"), "must not contain NUL characters");

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
