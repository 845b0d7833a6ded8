// Every migration of the message service, in order. Add new ones at the end.
import { Migration20261124100000_messages } from "./Migration20261124100000_messages.js";

export const migrations = [{ name: "Migration20261124100000_messages", class: Migration20261124100000_messages }];
