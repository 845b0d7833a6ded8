// @vitest-environment happy-dom
// A room's settings are versioned by its room lane position (Room.lastChange): a copy read before
// a change that is already applied never undoes it. The room list call that a member leaving
// starts can be answered after the owner's archive was (the room-settings browser test's flake:
// the archive seemed to be undone and "Unarchive room" never came).
import { describe, expect, it } from "vitest";
import { isRoomLaneCurrent, withNewerRoomLane } from "../src/lib/store/rooms";
import type { RoomSummary } from "../src/lib/types";

function room(over: Partial<RoomSummary>): RoomSummary {
  return {
    id: "00000000-0000-4000-8000-000000000001",
    name: "planning",
    topic: "",
    description: "",
    archived: false,
    membersCanPin: false,
    membersCanMentionEveryone: true,
    lastChange: 7,
    ...over,
  } as RoomSummary;
}

describe("room lane ordering", () => {
  it("a room list read before the archive keeps the archive (and the later position), and the rest of the list's copy", () => {
    const held = room({ archived: true, lastChange: 8, unreadCount: 0 } as Partial<RoomSummary>);
    const listed = room({ archived: false, lastChange: 7, unreadCount: 3 } as Partial<RoomSummary>);
    const merged = withNewerRoomLane(listed, held);
    expect(merged.archived).toBe(true);
    expect(merged.lastChange).toBe(8);
    expect((merged as { unreadCount?: number }).unreadCount).toBe(3);
  });

  it("a room list as recent as what is held, or more, wins", () => {
    const held = room({ archived: true, lastChange: 8 });
    expect(withNewerRoomLane(room({ archived: false, lastChange: 9, name: "renamed" }), held)).toMatchObject({ archived: false, name: "renamed", lastChange: 9 });
    expect(withNewerRoomLane(room({ archived: true, lastChange: 8 }), held)).toMatchObject({ archived: true, lastChange: 8 });
  });

  it("an older live copy or answer is not current; a newer or an equal one is, bigint positions included", () => {
    const held = room({ lastChange: 8 });
    expect(isRoomLaneCurrent(held, { lastChange: 7 })).toBe(false);
    expect(isRoomLaneCurrent(held, { lastChange: 8n })).toBe(true);
    expect(isRoomLaneCurrent(held, { lastChange: 9n })).toBe(true);
    // A copy that does not say where it stands applies, as before.
    expect(isRoomLaneCurrent(held, {})).toBe(true);
    expect(isRoomLaneCurrent(undefined, { lastChange: 1 })).toBe(true);
  });
});
