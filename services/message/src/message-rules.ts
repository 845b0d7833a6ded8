// Field rules of messages, checked by the service (and reusable by the edge and web app).
import { hasVisibleCharacter, text } from "@parley/kit";
import { z } from "zod";

export const BODY_MAX_CHARACTERS = 4000;
export const BODY_RULE = `must be 1-${BODY_MAX_CHARACTERS} characters after trimming`;
export const CLIENT_MSG_ID_RULE = "1-64 letters, digits, '_', '-', ':' or '.'";

/** Counted in Unicode code points, so an emoji is one character, as people count them. */
function characterCount(value: string): number {
  let count = 0;
  for (const _ of value) count++;
  return count;
}

export const messageRules = {
  body: text().pipe(
    z
      .string()
      .trim()
      // A code point takes at most two UTF-16 units: longer strings fail before being counted.
      .refine((v) => v.length > 0 && v.length <= 2 * BODY_MAX_CHARACTERS && characterCount(v) <= BODY_MAX_CHARACTERS, BODY_RULE)
      // Zero-width and other invisible characters alone would be a message nobody can see.
      .refine(hasVisibleCharacter, "must contain a visible character"),
  ),
  /** Empty: the server picks one. */
  clientMsgId: z.string().regex(/^[A-Za-z0-9_\-:.]{0,64}$/, CLIENT_MSG_ID_RULE),
  uuid: z.string().uuid("must be a UUID"),
  optionalUuid: z.union([z.literal(""), z.string().uuid("must be a UUID or empty")]),
};
