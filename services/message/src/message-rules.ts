// The message fields' rules are in the one rule table (@parley/proto/rules); this module only
// passes them on under the names it used to export.
import { BODY_MAX_CHARACTERS, BODY_RULE, CLIENT_MSG_ID_RULE } from "@parley/proto/rules";
import { fields } from "@parley/proto/rules/zod";

export { BODY_MAX_CHARACTERS, BODY_RULE, CLIENT_MSG_ID_RULE };

export const messageRules = {
  body: fields.body,
  clientMsgId: fields.clientMsgId,
  uuid: fields.id,
  optionalUuid: fields.optionalId,
};
