// The notification worker's feed (services/message/src/feed.ts): only the notify process may call
// it; ListRoomHeads pages through rooms that moved, ListNewMessages through a room's messages after
// a seq (thread replies and deleted ones included), ListThreadFollowers lists a thread's followers.
import { randomBytes } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { asUser, createServiceClient, InternalAuth, toTimestamp } from "@parley/kit";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import { RoomKind } from "@parley/proto/room/v1/room_pb";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (e) => ConnectError.from(e));

describe("message feed for the notification worker", () => {
  let parley: TestParley<"message">;
  let asNotify: ReturnType<typeof createServiceClient<typeof MessageService>>;
  let asEdge: ReturnType<typeof createServiceClient<typeof MessageService>>;

  beforeAll(async () => {
    parley = await startTestParley({ services: ["message"] });
    const as = (caller: string) =>
      createServiceClient(MessageService, parley.addresses.message, { internalAuth: new InternalAuth(parley.env.INTERNAL_AUTH_SECRET!, caller), defaultTimeoutMs: 30_000 });
    asNotify = as("notify");
    asEdge = as("edge");
  }, 120_000);
  afterAll(() => parley?.stop());

  async function user() {
    const username = `f_${randomBytes(4).toString("hex")}`;
    return (await parley.users.createUser({ id: uuidv7(), username, email: `${username}@example.com`, displayName: "" })).user!.id;
  }

  async function room(owner: string, members: string[] = []) {
    const { room } = await parley.rooms.createRoom({ name: `feed ${randomBytes(3).toString("hex")}`, kind: RoomKind.PRIVATE }, asUser(owner));
    for (const member of members) await parley.rooms.inviteMember({ roomId: room!.id, userId: member }, asUser(owner));
    return room!.id;
  }

  it("answers only the notify process (and an admin credential): PERMISSION_DENIED for others", async () => {
    const owner = await user();
    const roomId = await room(owner);
    // Each call starts only when its answer is awaited: three started at once would leave the later
    // refusals unhandled while the first is awaited (vitest reports them as unhandled rejections).
    const calls = (client: typeof asEdge) => [
      () => client.listRoomHeads({ since: toTimestamp(0) }),
      () => client.listNewMessages({ roomId, afterSeq: 0n }),
      () => client.listThreadFollowers({ threadRootId: uuidv7() }),
    ];
    for (const client of [asEdge, parley.messages]) {
      for (const call of calls(client)) expect((await failure(call()))?.code).toBe(Code.PermissionDenied);
    }
    for (const call of calls(asNotify)) expect(await failure(call())).toBeUndefined();
    const admin = { headers: { authorization: `Bearer ${await parley.internalAuth.adminToken(5, "test")}` } };
    expect(await failure(parley.messages.listNewMessages({ roomId, afterSeq: 0n }, admin))).toBeUndefined();
  });

  it("pages through a room's messages after a seq, thread replies and deleted messages included", async () => {
    const owner = await user();
    const roomId = await room(owner);
    const send = async (body: string, extra = {}) => (await parley.messages.sendMessage({ roomId, body, ...extra }, asUser(owner))).message!;
    const root = await send("root");
    await send("reply", { threadRootId: root.id });
    const gone = await send("to delete");
    await parley.messages.deleteMessage({ messageId: gone.id }, asUser(owner));
    await send("four");
    await send("five");
    const seqs: bigint[][] = [];
    let after = 0n;
    for (;;) {
      const page = await asNotify.listNewMessages({ roomId, afterSeq: after, limit: 2 });
      seqs.push(page.messages.map((m) => m.seq));
      if (!page.hasMore) break;
      after = page.messages.at(-1)!.seq;
    }
    expect(seqs).toEqual([[1n, 2n], [3n, 4n], [5n]]);
    const all = (await asNotify.listNewMessages({ roomId, afterSeq: 0n })).messages;
    expect(all.find((m) => m.seq === 2n)).toMatchObject({ body: "reply", threadRootId: root.id });
    expect(all.find((m) => m.seq === 3n)).toMatchObject({ deleted: true, body: "" });
    expect((await asNotify.listNewMessages({ roomId, afterSeq: 5n })).messages).toEqual([]);
    const bad = await failure(asNotify.listNewMessages({ roomId, afterSeq: -1n }));
    expect(bad?.rawMessage).toMatch(/^after_seq: /);
    expect((await failure(asNotify.listNewMessages({ roomId: "x", afterSeq: 0n })))?.rawMessage).toMatch(/^room_id: /);
    expect((await failure(asNotify.listNewMessages({ roomId, afterSeq: 0n, limit: 501 })))?.rawMessage).toMatch(/^limit: /);
  });

  it("pages through the rooms that moved since a time, with their heads", async () => {
    const owner = await user();
    const since = toTimestamp(Date.now() - 60_000);
    const rooms = [await room(owner), await room(owner), await room(owner)];
    for (const [index, roomId] of rooms.entries()) {
      for (let i = 0; i <= index; i++) await parley.messages.sendMessage({ roomId, body: `m${i}` }, asUser(owner));
    }
    const heads = new Map<string, bigint>();
    let pageToken = "";
    let pages = 0;
    do {
      const page = await asNotify.listRoomHeads({ since, limit: 1, pageToken });
      expect(page.heads.length).toBeLessThanOrEqual(1);
      for (const head of page.heads) heads.set(head.roomId, head.lastSeq);
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(rooms.map((id) => heads.get(id))).toEqual([1n, 2n, 3n]);
    const later = await asNotify.listRoomHeads({ since: toTimestamp(Date.now() + 3_600_000) });
    expect(later.heads.filter((h) => rooms.includes(h.roomId))).toEqual([]);
    expect((await failure(asNotify.listRoomHeads({})))?.rawMessage).toMatch(/^since: /);
    expect((await failure(asNotify.listRoomHeads({ since, pageToken: "garbage" })))?.rawMessage).toMatch(/^page_token: /);
  });

  it("lists a thread's followers with their read markers", async () => {
    const [owner, replier, reader] = [await user(), await user(), await user()];
    const roomId = await room(owner, [replier, reader]);
    const root = (await parley.messages.sendMessage({ roomId, body: "thread" }, asUser(owner))).message!;
    await parley.messages.sendMessage({ roomId, body: "reply", threadRootId: root.id }, asUser(replier));
    await parley.messages.followThread({ rootId: root.id }, asUser(reader));
    const { followers } = await asNotify.listThreadFollowers({ threadRootId: root.id });
    const ids = followers.map((f) => f.userId);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids)).toEqual(new Set([owner, replier, reader]));
    expect((await failure(asNotify.listThreadFollowers({ threadRootId: "nope" })))?.rawMessage).toMatch(/^thread_root_id: /);
  });
});
