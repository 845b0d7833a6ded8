// The live wiring: each event of the LiveClient, fed into the stores it changes.
import type { LiveClient } from "@parley/client";
import { presenceName, toChatMessage } from "../live";
import { inRoomTimeline, threadBus } from "../threads";
import type { Connection } from "./connection";
import type { Members } from "./members";
import type { Notifications } from "./notifications";
import { fromProto } from "../notification-view";
import type { People } from "./people";
import type { Rooms } from "./rooms";
import type { Timelines } from "./timelines";
import type { Typing } from "./typing";

export interface Stores {
  connection: Connection;
  people: People;
  rooms: Rooms;
  timelines: Timelines;
  typing: Typing;
  members: Members;
  notifications: Notifications;
}

/** A refused subscription for a passing reason is tried again after this long. */
const RESUBSCRIBE_MS = 2_000;

export function wireLiveEvents(
  client: LiveClient,
  stores: Stores,
  options: { notify: (text: string) => void; onSignedOut: (reason: string) => void; isClosed: () => boolean },
): void {
  const { connection, people, rooms, timelines, typing, members } = stores;
  const myId = people.myId;
  let everLive = false;

  /** I left or was removed: the room, its subscription and its timeline go. */
  const forgetRoom = (roomId: string) => {
    rooms.forget(roomId);
    connection.dropped(roomId);
    timelines.drop(roomId);
  };

  client.on("state", (state) => {
    // Without the socket nobody's presence is known: show no one online (the snapshots after the
    // reconnect tell it again) rather than what was true before the break.
    if (state !== "live") return people.clearPresence();
    const wasLive = everLive;
    everLive = true;
    people.setPresence(myId, "online");
    if (!wasLive) return;
    // Back after a break: the client resumes every room from its stream position, and the
    // server replays every change since (messages, edits, deletions, members, the room), each
    // once; only the room list's counts are read again.
    rooms.refreshSoon(0);
  });
  client.on("message", (raw) => {
    const message = toChatMessage(raw);
    threadBus.emit(message);
    timelines.receive(message);
    typing.stopped(message.roomId, message.senderId);
    people.ensureUser(message.senderId);
    // A reply kept in its thread is not one of the room's unread messages.
    if (inRoomTimeline(message)) rooms.received(message);
  });
  // Edits and deletions, live or replayed, go to the message wherever it is in the history loaded.
  client.on("edited", (raw) => {
    const message = toChatMessage(raw);
    threadBus.emit(message);
    timelines.change(message);
  });
  client.on("deleted", (raw) => {
    const message = toChatMessage(raw);
    threadBus.emit(message);
    timelines.change(message);
    if (inRoomTimeline(message)) rooms.deleted(message);
  });
  client.on("typing", ({ roomId, userId }) => typing.saw(roomId, userId));
  client.on("presence", ({ userId, state }) => people.setPresence(userId, presenceName(state)));
  client.on("readMarker", ({ roomId, lastReadSeq }) => {
    rooms.readElsewhere(roomId, Number(lastReadSeq));
    stores.notifications.readUpTo(roomId, Number(lastReadSeq));
  });
  client.on("member", ({ kind, roomId, userId, membership }) => {
    if (userId === myId) {
      if (kind === "left" || kind === "kicked") {
        if (kind === "kicked") options.notify(`You were removed from ${rooms.titleById(roomId)}.`);
        forgetRoom(roomId);
        return;
      }
      if (kind === "roleChanged" && membership) rooms.roleChanged(roomId, membership.role);
      else rooms.refreshSoon();
    }
    members.changed(roomId);
    if (kind === "joined" || kind === "left" || kind === "kicked") rooms.refreshSoon(500);
  });
  client.on("roomUpdated", ({ room }) => {
    if (room) rooms.updated(room);
    else rooms.refreshSoon();
  });
  // Our copy of the room is ahead of the room (its database was restored): load it afresh. The
  // client goes on with live events meanwhile, and the new first page tells it where to resume.
  client.on("reset", ({ roomId }) => {
    timelines.reset(roomId);
    members.changed(roomId);
    rooms.refreshSoon(0);
  });
  client.on("roomClosed", ({ roomId, code, position }) => {
    connection.dropped(roomId);
    if (code === "NOT_FOUND" || code === "PERMISSION_DENIED") {
      forgetRoom(roomId);
      return;
    }
    // Refused for a passing reason: subscribe again soon, from what we have.
    setTimeout(() => {
      const room = rooms.roomById(roomId);
      if (options.isClosed() || !room || connection.isSubscribed(roomId)) return;
      connection.subscribe(roomId, { lastSeq: timelines.newestSeq(roomId) ?? room.lastSeq, ...(position && { messages: Number(position.messages), room: Number(position.room) }) });
    }, RESUBSCRIBE_MS);
  });
  // --- notifications (issue 18): shown while the tab is hidden (the store decides) ---
  client.on("notification", (n) => void stores.notifications.received(fromProto(n)));
  client.on("signedOut", () => options.onSignedOut("You were signed out on every device."));
  client.on("error", (error) => console.warn("live:", error.code, error.message));
}
