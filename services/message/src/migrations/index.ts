// Every migration of the message service, in order. Add new ones at the end.
import { Migration20261124100000_messages } from "./Migration20261124100000_messages.js";
import { Migration20261202060000_message_changes } from "./Migration20261202060000_message_changes.js";
import { Migration20261202120000_reactions } from "./Migration20261202120000_reactions.js";
import { Migration20261202121000_pins } from "./Migration20261202121000_pins.js";
import { Migration20261202140000_threads } from "./Migration20261202140000_threads.js";
import { Migration20261202141000_mentions } from "./Migration20261202141000_mentions.js";
import { Migration20261203100000_search } from "./Migration20261203100000_search.js";
import { Migration20261204180000_files } from "./Migration20261204180000_files.js";
import { Migration20261204120000_link_previews } from "./Migration20261204120000_link_previews.js";

export const migrations = [
  { name: "Migration20261124100000_messages", class: Migration20261124100000_messages },
  { name: "Migration20261202060000_message_changes", class: Migration20261202060000_message_changes },
  { name: "Migration20261202120000_reactions", class: Migration20261202120000_reactions },
  { name: "Migration20261202121000_pins", class: Migration20261202121000_pins },
  { name: "Migration20261202140000_threads", class: Migration20261202140000_threads },
  { name: "Migration20261202141000_mentions", class: Migration20261202141000_mentions },
  { name: "Migration20261203100000_search", class: Migration20261203100000_search },
  { name: "Migration20261204180000_files", class: Migration20261204180000_files },
  { name: "Migration20261204120000_link_previews", class: Migration20261204120000_link_previews },
];
