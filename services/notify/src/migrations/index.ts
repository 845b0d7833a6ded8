// Every migration of the notify service, in order. Add new ones at the end.
import { Migration20261204030000_notify } from "./Migration20261204030000_notify.js";

export const migrations = [{ name: "Migration20261204030000_notify", class: Migration20261204030000_notify }];
