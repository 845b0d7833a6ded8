// @vitest-environment happy-dom
// The message list's logic: ordered by seq, one entry per seq, optimistic sends
// replaced by their confirmations (matched by clientMsgId), edits and deletions.
import { describe, expect, it } from "vitest";
import {
  applyChange,
  continuesGroup,
  firstUnreadSeq,
  indexOfSeq,
  laterVersion,
  mergeMessages,
  timelineItems,
  unconfirmed,
  upsertLoaded,
  type PendingSend,
} from "../src/lib/timeline";
import type { ChatMessage } from "../src/lib/types";

const ROOM = "00000000-0000-4000-8000-000000000001";
const ME = "me";
const t0 = Date.parse("2025-03-07T10:00:00Z");

function msg(seq: number, over: Partial<ChatMessage> = {}): ChatMessage {
  return {
    id: `m${seq}`,
    roomId: ROOM,
    seq,
    senderId: "ada",
    body: `message ${seq}`,
    clientMsgId: `c${seq}`,
    replyToId: null,
    createdAt: new Date(t0 + seq * 1000).toISOString(),
    editedAt: null,
    deleted: false,
    ...over,
  };
}

function pending(clientMsgId: string, over: Partial<PendingSend> = {}): PendingSend {
  return { clientMsgId, roomId: ROOM, senderId: ME, body: `pending ${clientMsgId}`, createdAt: new Date(t0 + 999_000).toISOString(), status: "sending", ...over };
}

const seqs = (list: { seq: number }[]) => list.map((m) => m.seq);

describe("mergeMessages", () => {
  it("orders by seq whatever the arrival order", () => {
    const list = mergeMessages([], [msg(5), msg(2), msg(9), msg(1)]);
    expect(seqs(list)).toEqual([1, 2, 5, 9]);
    expect(seqs(mergeMessages(list, [msg(3), msg(7)]))).toEqual([1, 2, 3, 5, 7, 9]);
  });

  it("keeps one entry per seq (a replay after a reconnect adds nothing)", () => {
    const list = mergeMessages([], [msg(1), msg(2), msg(3)]);
    const replayed = mergeMessages(list, [msg(2), msg(3), msg(3), msg(4)]);
    expect(seqs(replayed)).toEqual([1, 2, 3, 4]);
  });

  it("returns the same array, and the same objects, when nothing changes", () => {
    const list = mergeMessages([], [msg(1), msg(2)]);
    expect(mergeMessages(list, [msg(1), msg(2)])).toBe(list);
    expect(mergeMessages(list, [])).toBe(list);
    const grown = mergeMessages(list, [msg(3)]);
    expect(grown[0]).toBe(list[0]);
    expect(grown[1]).toBe(list[1]);
  });

  it("prepends an older page in order", () => {
    const latest = mergeMessages([], [msg(51), msg(52), msg(53)]);
    const older = mergeMessages(latest, [msg(48), msg(49), msg(50)]);
    expect(seqs(older)).toEqual([48, 49, 50, 51, 52, 53]);
  });

  it("ignores messages of another room and invalid seqs", () => {
    const list = mergeMessages([], [msg(1), msg(2, { roomId: "other" }), msg(0), msg(1, { seq: Number.NaN })], ROOM);
    expect(seqs(list)).toEqual([1]);
  });

  it("keeps the later version of a message (a stale copy never undoes an edit or a deletion)", () => {
    const edited = msg(1, { body: "edited", editedAt: new Date(t0 + 60_000).toISOString() });
    const deleted = msg(2, { body: "", deleted: true });
    const list = mergeMessages([], [edited, deleted]);
    const afterStale = mergeMessages(list, [msg(1), msg(2)]);
    expect(afterStale[0]!.body).toBe("edited");
    expect(afterStale[1]!.deleted).toBe(true);
    expect(afterStale).toBe(list);
  });

  it("takes a newer edit", () => {
    const first = msg(1, { body: "v2", editedAt: new Date(t0 + 1000).toISOString() });
    const second = msg(1, { body: "v3", editedAt: new Date(t0 + 2000).toISOString() });
    expect(laterVersion(first, second)).toBe(second);
    expect(laterVersion(second, first)).toBe(second);
  });
});

describe("applyChange", () => {
  it("replaces an edited message in place", () => {
    const list = mergeMessages([], [msg(1), msg(2), msg(3)]);
    const edited = msg(2, { body: "fixed typo", editedAt: new Date(t0 + 5000).toISOString() });
    const next = applyChange(list, edited);
    expect(next.map((m) => m.body)).toEqual(["message 1", "fixed typo", "message 3"]);
    expect(next[0]).toBe(list[0]);
    expect(list[1]!.body).toBe("message 2");
  });

  it("marks a message deleted, and ignores changes to messages it does not have", () => {
    const list = mergeMessages([], [msg(1), msg(2)]);
    expect(applyChange(list, msg(2, { deleted: true, body: "" }))[1]!.deleted).toBe(true);
    expect(applyChange(list, msg(7, { body: "x", editedAt: new Date().toISOString() }))).toBe(list);
  });

  it("finds messages by seq", () => {
    const list = mergeMessages([], [msg(3), msg(8), msg(20), msg(21)]);
    expect(indexOfSeq(list, 20)).toBe(2);
    expect(indexOfSeq(list, 4)).toBe(-1);
  });
});

describe("changes from the stream (upserts into the history loaded)", () => {
  it("orders two versions by their stream position when both tell it", () => {
    const edited = msg(3, { body: "edited", editedAt: new Date(t0 + 60_000).toISOString(), change: 40 });
    const deleted = msg(3, { body: "", deleted: true, change: 41 });
    expect(laterVersion(edited, deleted)).toBe(deleted);
    expect(laterVersion(deleted, edited)).toBe(deleted);
    // An edit that came after another, with the same clock reading.
    const first = msg(4, { body: "first", editedAt: new Date(t0).toISOString(), change: 50 });
    const second = msg(4, { body: "second", editedAt: new Date(t0).toISOString(), change: 51 });
    expect(laterVersion(second, first)).toBe(second);
    expect(laterVersion(first, second)).toBe(second);
  });

  it("applies an edit and a deletion far up in the history, and a message it never had in the range it holds", () => {
    const list = [msg(10), msg(11), msg(12), msg(14)];
    const next = upsertLoaded(
      list,
      [msg(10, { body: "ten, edited", editedAt: new Date(t0 + 5_000).toISOString(), change: 90 }), msg(11, { body: "", deleted: true, change: 91 }), msg(13, { body: "thirteen", change: 92 })],
      ROOM,
      10,
    );
    expect(next.map((m) => [m.seq, m.deleted ? "(deleted)" : m.body])).toEqual([
      [10, "ten, edited"],
      [11, "(deleted)"],
      [12, "message 12"],
      [13, "thirteen"],
      [14, "message 14"],
    ]);
    expect(next[2]).toBe(list[2]);
  });

  it("leaves changes older than the history loaded to the page that will bring them (no island)", () => {
    const list = [msg(10), msg(11)];
    expect(upsertLoaded(list, [msg(3, { body: "three, edited", change: 7 })], ROOM, 10)).toBe(list);
    // With the whole history loaded (no bound), it goes in.
    expect(upsertLoaded(list, [msg(3, { change: 7 })], ROOM).map((m) => m.seq)).toEqual([3, 10, 11]);
  });
});

describe("optimistic sends", () => {
  it("shows pending sends after the confirmed messages, oldest first", () => {
    const confirmed = mergeMessages([], [msg(1), msg(2)]);
    const a = pending("a", { createdAt: new Date(t0 + 10_000).toISOString() });
    const b = pending("b", { createdAt: new Date(t0 + 5_000).toISOString() });
    const items = timelineItems(confirmed, [a, b], ME);
    expect(items.map((i) => ("status" in i ? i.clientMsgId : i.seq))).toEqual([1, 2, "b", "a"]);
  });

  it("replaces a pending send by its confirmation (same clientMsgId), exactly once", () => {
    const sending = pending("c-42");
    const confirmation = msg(3, { senderId: ME, clientMsgId: "c-42", body: sending.body });
    const confirmed = mergeMessages([msg(1), msg(2)], [confirmation]);
    const items = timelineItems(confirmed, [sending], ME);
    expect(items).toHaveLength(3);
    expect(items.filter((i) => i.body === sending.body)).toHaveLength(1);
    expect(items[2]).toBe(confirmed[2]);
    // The ack and the broadcast both arrive: still one message.
    const twice = mergeMessages(confirmed, [confirmation, { ...confirmation }]);
    expect(timelineItems(twice, [sending], ME)).toHaveLength(3);
  });

  it("does not take someone else's message with the same clientMsgId as a confirmation", () => {
    const sending = pending("same-id");
    const theirs = msg(3, { senderId: "bob", clientMsgId: "same-id" });
    expect(unconfirmed([sending], [theirs], ME)).toEqual([sending]);
    expect(timelineItems([theirs], [sending], ME)).toHaveLength(2);
  });

  it("keeps a failed send until it is retried and confirmed", () => {
    const failed = pending("f1", { status: "failed", error: "connection lost" });
    const items = timelineItems([msg(1)], [failed], ME);
    expect(items[1]).toBe(failed);
    const retried = { ...failed, status: "sending" as const, error: undefined };
    const confirmation = msg(2, { senderId: ME, clientMsgId: "f1" });
    expect(timelineItems([msg(1), confirmation], [retried], ME).map((i) => ("status" in i ? "pending" : i.seq))).toEqual([1, 2]);
  });

  it("returns the same pending list when nothing was confirmed", () => {
    const list = [pending("x"), pending("y")];
    expect(unconfirmed(list, [msg(1)], ME)).toBe(list);
  });
});

describe("reading and grouping", () => {
  it("puts the new-messages line at the first unread message from someone else", () => {
    const list = [msg(1), msg(2), msg(3, { senderId: ME }), msg(4, { deleted: true }), msg(5)];
    expect(firstUnreadSeq(list, 2, ME)).toBe(5);
    expect(firstUnreadSeq(list, 0, ME)).toBe(1);
    expect(firstUnreadSeq(list, 5, ME)).toBeUndefined();
  });

  it("groups consecutive messages of one sender within five minutes on the same day", () => {
    const a = msg(1);
    const b = msg(2);
    const later = msg(3, { createdAt: new Date(t0 + 10 * 60_000).toISOString() });
    const other = msg(4, { senderId: "bob" });
    expect(continuesGroup(undefined, a)).toBe(false);
    expect(continuesGroup(a, b)).toBe(true);
    expect(continuesGroup(b, later)).toBe(false);
    expect(continuesGroup(b, other)).toBe(false);
    expect(continuesGroup(msg(1, { deleted: true }), b)).toBe(false);
  });
});
