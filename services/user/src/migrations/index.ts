// Every migration of the user service, in order. Add new ones at the end.
import { Migration20261124000000_users } from "./Migration20261124000000_users.js";

export const migrations = [{ name: "Migration20261124000000_users", class: Migration20261124000000_users }];
