// Request validation inside services: a zod schema per request, failures
// become INVALID_ARGUMENT naming the field and the rule.
import type { z } from "zod";
import { fail } from "./errors.js";

export function validate<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join(".") || "request";
  throw fail.invalidArgument(field, issue.message);
}
