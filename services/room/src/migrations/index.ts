// Every migration of the room service, in order. Add new ones at the end.
import { Migration20261124010000_rooms } from "./Migration20261124010000_rooms.js";

export const migrations = [{ name: "Migration20261124010000_rooms", class: Migration20261124010000_rooms }];
