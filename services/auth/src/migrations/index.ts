// Every migration of the auth service, in order. Add new ones at the end.
import { Migration20261124000000_auth } from "./Migration20261124000000_auth.js";

export const migrations = [{ name: "Migration20261124000000_auth", class: Migration20261124000000_auth }];
