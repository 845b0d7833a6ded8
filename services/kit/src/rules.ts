// The field rules live in one table beside the contracts (@parley/proto/rules), read by every
// layer. The kit only passes on what its users import from it, under the old names.
import { fields } from "@parley/proto/rules/zod";

export { hasVisibleCharacter, NUL_RULE, pathOfNul, USERNAME_RULE } from "@parley/proto/rules";

/** The zod schemas of some of the table's fields (@parley/proto/rules/zod). */
export const rules = {
  username: fields.username,
  email: fields.email,
  displayName: fields.displayName,
  avatarUrl: fields.avatarUrl,
  statusText: fields.statusText,
  uuid: fields.id,
};
