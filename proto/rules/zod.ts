// zod schemas derived from the rule table (./index.ts): the services validate their requests with
// them, and the edge builds its REST and tRPC inputs from them, so that a value gets the same
// answer (accepted, or the same rule message) wherever it is checked. Kept apart from the table
// so that the web app, which reads only the table, does not bundle zod.
import { z } from "zod";
import { FIELDS, PAGES, SEQ_MAX, normalize, problemOf, type FieldName, type PageRule, type TextRule } from "./index.js";

/** A string schema that keeps the normalised (trimmed) value and refuses what `rule` refuses, with its message. */
export function textSchema(rule: TextRule) {
  const documented = {
    minLength: rule.emptyMeans !== undefined ? 0 : rule.min,
    maxLength: rule.max,
    ...(rule.pattern && { pattern: rule.pattern.source }),
    description: [
      rule.trim ? "trimmed; lengths in characters (code points) after trimming" : "lengths in characters (code points)",
      rule.emptyMeans !== undefined ? `empty: ${rule.emptyMeans}` : "",
    ]
      .filter(Boolean)
      .join("; "),
  };
  return z
    .string()
    .overwrite((value) => normalize(rule, value))
    .superRefine((value, ctx) => {
      const message = problemOf(rule, value);
      if (message !== undefined) ctx.addIssue({ code: "custom", message });
    })
    .meta(documented);
}

type FieldSchemas = { [K in FieldName]: ReturnType<typeof textSchema> };

/** One schema per field of the table. */
export const fields = Object.fromEntries(Object.entries(FIELDS).map(([name, rule]) => [name, textSchema(rule)])) as FieldSchemas;

/** A seq (or a cursor on seqs) in a JSON or query-string input. */
export const seq = z.coerce.number().int("must be a whole number").min(0, "must not be negative").max(SEQ_MAX, "is too large");

/** A page size at the edge: 1 to the page's max; left out, the service's default. */
export const pageLimit = (page: PageRule) =>
  z.coerce.number().int("must be a whole number").min(1, `must be 1-${page.max}`).max(page.max, `must be 1-${page.max}`);

/** A page size in a service's request: 0 means the default. */
export const pageSize = (page: PageRule) =>
  z.number().int("must be a whole number").min(0, "must not be negative").max(page.max, `at most ${page.max}`);

export { PAGES };
