// Every migration of the room service, in order. Add new ones at the end.
import { Migration20261124010000_rooms } from "./Migration20261124010000_rooms.js";
import { Migration20261202050000_room_changes } from "./Migration20261202050000_room_changes.js";
import { Migration20261202121500_pin_policy } from "./Migration20261202121500_pin_policy.js";
import { Migration20261202123000_group_direct_rooms } from "./Migration20261202123000_group_direct_rooms.js";
import { Migration20261202141500_mention_policy } from "./Migration20261202141500_mention_policy.js";
import { Migration20261202142000_room_description } from "./Migration20261202142000_room_description.js";

export const migrations = [
  { name: "Migration20261124010000_rooms", class: Migration20261124010000_rooms },
  { name: "Migration20261202050000_room_changes", class: Migration20261202050000_room_changes },
  { name: "Migration20261202121500_pin_policy", class: Migration20261202121500_pin_policy },
  { name: "Migration20261202123000_group_direct_rooms", class: Migration20261202123000_group_direct_rooms },
  { name: "Migration20261202141500_mention_policy", class: Migration20261202141500_mention_policy },
  { name: "Migration20261202142000_room_description", class: Migration20261202142000_room_description },
];
