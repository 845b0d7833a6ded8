// The sidebar's "my rooms", composed at the edge from RoomService.ListMyRooms and
// MessageService.GetRoomStats: unread counts, last seq and order by activity.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectError, Code } from "@connectrpc/connect";
import { asUser, createLogger } from "@parley/kit";
import { listMyRooms } from "../src/api/my-rooms.js";
import { startTestEdge, type TestEdge } from "./harness.js";

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge({ RATE_SEND_PER_10S_USER: "100" });
});
afterAll(() => edge?.stop());

const pause = (ms = 15) => new Promise((resolve) => setTimeout(resolve, ms));

describe("my rooms", () => {
  it("count unread messages of others after my marker, with the room's last seq", async () => {
    const [me, other] = [await edge.signUp("mr"), await edge.signUp("mo")];
    const api = edge.trpc(me.accessToken);
    const theirs = edge.trpc(other.accessToken);
    const room = await api.rooms.create.mutate({ name: "counted", visibility: "public" });
    await theirs.rooms.join.mutate({ id: room.id });
    const send = async (client: typeof api, count: number) => {
      for (let i = 0; i < count; i++) await client.messages.send.mutate({ roomId: room.id, body: `message ${i}` });
    };
    await send(theirs, 3);
    await send(api, 1);
    await send(theirs, 2);
    const summary = async () => (await api.rooms.list.query()).rooms.find((r) => r.id === room.id)!;
    expect(await summary()).toMatchObject({ lastSeq: 6, unreadCount: 5, lastReadSeq: 0 });
    expect(await api.rooms.markRead.mutate({ id: room.id, seq: 4 })).toEqual({ lastReadSeq: 4 });
    expect(await summary()).toMatchObject({ lastSeq: 6, unreadCount: 2, lastReadSeq: 4 });
    // Capped at the newest message: a later one still counts.
    expect(await api.rooms.markRead.mutate({ id: room.id, seq: 100 })).toEqual({ lastReadSeq: 6 });
    await send(theirs, 1);
    expect(await summary()).toMatchObject({ lastSeq: 7, unreadCount: 1, lastReadSeq: 6 });
  });

  it("come most recent activity first; rooms without messages by when I joined them", async () => {
    const me = await edge.signUp("ma");
    const api = edge.trpc(me.accessToken);
    const a = await api.rooms.create.mutate({ name: "a", visibility: "private" });
    await pause();
    const b = await api.rooms.create.mutate({ name: "b", visibility: "private" });
    await pause();
    await api.rooms.create.mutate({ name: "quiet", visibility: "private" });
    await pause();
    await api.messages.send.mutate({ roomId: a.id, body: "first" });
    const order = async () => (await api.rooms.list.query()).rooms.map((r) => r.name);
    expect(await order()).toEqual(["a", "quiet", "b"]);
    await pause();
    await api.messages.send.mutate({ roomId: b.id, body: "second" });
    expect(await order()).toEqual(["b", "a", "quiet"]);
    const { rooms } = await api.rooms.list.query();
    expect(rooms[0]?.lastSeq).toBe(1);
    expect(rooms[2]).toMatchObject({ lastSeq: 0, unreadCount: 0 });
    expect(rooms[2]?.lastActivityAt).toBe(rooms[2]?.createdAt);
  });

  it("are listed without counts, newest membership first, when the message service does not answer", async () => {
    const me = await edge.signUp("md");
    const api = edge.trpc(me.accessToken);
    const first = await api.rooms.create.mutate({ name: "first", visibility: "private" });
    await pause();
    const second = await api.rooms.create.mutate({ name: "second", visibility: "private" });
    await api.messages.send.mutate({ roomId: first.id, body: "hello" });
    const warnings: unknown[] = [];
    const log = createLogger("test", "silent");
    log.warn = ((...args: unknown[]) => void warnings.push(args)) as typeof log.warn;
    const down = {
      getRoomStats: () => Promise.reject(new ConnectError("connection refused", Code.Unavailable)),
    } as unknown as Parameters<typeof listMyRooms>[0]["messages"];
    const rooms = await listMyRooms({ rooms: edge.parley.rooms, messages: down }, asUser(me.user.id), log);
    expect(rooms.map((r) => r.room?.name)).toEqual(["second", "first"]);
    for (const r of rooms) {
      expect(r).toMatchObject({ lastSeq: 0n, unreadCount: 0n });
      expect(r.lastActivityTime).toEqual(r.membership?.joinTime);
    }
    expect(warnings).toHaveLength(1);
    expect(second.id).toBe(rooms[0]?.room?.id);
  });
});
