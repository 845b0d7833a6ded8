// The message service on its own, next to a fake room service: every behaviour,
// plus what only shows from inside (the tables, query plans, failure of neighbours).
import { Code } from "@connectrpc/connect";
import { asUser, createLogger, MemoryBroker, type Broker } from "@parley/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHANGES_SQL, DuplicateClientMsgId, NEWER_SQL, OLDER_SQL, STATS_SQL } from "../src/repositories.js";
import { describeMessageBehaviours, failure, range, seqsOf } from "./behaviours.js";
import { startFakeRoomWorld, type FakeRoomWorld } from "./fake-room-world.js";

describeMessageBehaviours("service with a fake room service", () => startFakeRoomWorld());

describe("message service internals", () => {
  let world: FakeRoomWorld;
  beforeAll(async () => {
    world = await startFakeRoomWorld();
  });
  afterAll(() => world?.stop());

  const versions = (messageId: string) =>
    world.db.em
      .fork()
      .execute<{ version: number; body: string }[]>(
        `select version, body from message_versions where message_id = ? order by version`,
        [messageId],
      );

  async function room() {
    const owner = await world.newUser();
    const roomId = await world.createRoom(owner, "private");
    return { owner, roomId };
  }

  it("keeps every previous version of an edited message, oldest first, and none for an edit to the same text", async () => {
    const { owner, roomId } = await room();
    const { message } = await world.messages.sendMessage({ roomId, body: "v1" }, asUser(owner));
    for (const body of ["v2", "v3", "v3 ", "v4"]) {
      await world.messages.editMessage({ messageId: message!.id, body }, asUser(owner));
    }
    expect(await versions(message!.id)).toEqual([
      { version: 1, body: "v1" },
      { version: 2, body: "v2" },
      { version: 3, body: "v3" },
    ]);
    const [current] = await world.db.em.fork().execute(`select body, edited_at from messages where id = ?`, [message!.id]);
    expect(current).toMatchObject({ body: "v4" });
    expect(current?.edited_at).not.toBeNull();
  });

  it("removes the text of a deleted message and of all its versions, keeping the rows and the seq", async () => {
    const { owner, roomId } = await room();
    const { message } = await world.messages.sendMessage({ roomId, body: "secret" }, asUser(owner));
    await world.messages.editMessage({ messageId: message!.id, body: "more secret" }, asUser(owner));
    await world.messages.editMessage({ messageId: message!.id, body: "most secret" }, asUser(owner));
    await world.messages.deleteMessage({ messageId: message!.id }, asUser(owner));
    expect(await versions(message!.id)).toEqual([
      { version: 1, body: "" },
      { version: 2, body: "" },
    ]);
    const rows = await world.db.em.fork().execute(`select seq, body, deleted_at from messages where id = ?`, [message!.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ seq: "1", body: "" });
    expect(rows[0]?.deleted_at).not.toBeNull();
    const dump = await world.db.em.fork().execute(`select count(*)::int as n from message_versions where body like '%secret%'`);
    expect(dump[0]?.n).toBe(0);
  });

  it("gives the seq back when a send's transaction rolls back after taking it", async () => {
    const { owner, roomId } = await room();
    await world.messages.sendMessage({ roomId, body: "one", clientMsgId: "taken" }, asUser(owner));
    const clash = world.db.fork().messages.append({ id: crypto.randomUUID(), roomId, senderId: owner, body: "one", clientMsgId: "taken", replyToId: null });
    await expect(clash).rejects.toBeInstanceOf(DuplicateClientMsgId);
    expect((await world.db.fork().heads.head(roomId)).lastSeq).toBe(1n);
    const { message } = await world.messages.sendMessage({ roomId, body: "two" }, asUser(owner));
    expect(message?.seq).toBe(2n);
  });

  it("stores one message and takes one seq when 10 appends with the same client_msg_id race past the early lookup", async () => {
    const { owner, roomId } = await room();
    const outcomes = await Promise.allSettled(
      range(1, 10).map(() =>
        world.db.fork().messages.append({ id: crypto.randomUUID(), roomId, senderId: owner, body: "race", clientMsgId: "raw-race", replyToId: null }),
      ),
    );
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    for (const outcome of outcomes.filter((o) => o.status === "rejected")) {
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(DuplicateClientMsgId);
    }
    expect((await world.db.fork().heads.head(roomId)).lastSeq).toBe(1n);
    const { message } = await world.messages.sendMessage({ roomId, body: "next" }, asUser(owner));
    expect(message?.seq).toBe(2n);
  });

  it("has a committed migration that matches the entities exactly", async () => {
    const diff = await world.db.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
    expect(diff.trim()).toBe("");
  });

  it("reads pages and stats through the (room_id, seq) index at the end of a long room as at its start", async () => {
    const { owner, roomId } = await room();
    const em = world.db.em.fork();
    const total = 100_000;
    await em.execute(
      `insert into messages (id, room_id, seq, change, sender_id, body, client_msg_id, created_at)
       select gen_random_uuid(), ?::uuid, s, s, ?::uuid, 'bulk ' || s, 'bulk-' || s, now() from generate_series(1, ${total}) s`,
      [roomId, owner],
    );
    await em.execute(`insert into room_heads (room_id, last_seq, last_change, last_activity_at) values (?::uuid, ${total}, ${total}, now())`, [roomId]);
    // Other rooms too, so that the planner sees a table where one room is a small part.
    await em.execute(
      `insert into messages (id, room_id, seq, change, sender_id, body, client_msg_id, created_at)
       select gen_random_uuid(), gen_random_uuid(), 1, 1, ?::uuid, 'other', 'other-' || s, now() from generate_series(1, 20000) s`,
      [owner],
    );
    await em.execute(`analyze messages`);
    const plan = async (sql: string, params: unknown[]) =>
      (await em.execute<Record<string, string>[]>(`explain ${sql}`, params)).map((row) => Object.values(row)[0]).join("\n");
    for (const below of [51n, BigInt(total + 1)]) {
      const older = await plan(OLDER_SQL, [roomId, below.toString(), 51]);
      expect(older).toMatch(/Index Scan Backward using messages_room_id_seq_unique/);
      expect(older).not.toMatch(/Seq Scan|Sort/);
    }
    for (const from of [1n, BigInt(total - 40)]) {
      const newer = await plan(NEWER_SQL, [roomId, from.toString(), String(total), 51]);
      expect(newer).toMatch(/Index Scan using messages_room_id_seq_unique/);
      expect(newer).not.toMatch(/Seq Scan|Sort/);
    }
    // The lane's reads (resume, fill) walk (room_id, change) the same way.
    for (const after of [0n, BigInt(total - 40)]) {
      const lane = await plan(CHANGES_SQL, [roomId, after.toString(), String(total), 101]);
      expect(lane).toMatch(/Index Scan using messages_room_id_change_unique/);
      expect(lane).not.toMatch(/Seq Scan|Sort/);
    }
    const stats = await plan(STATS_SQL, [owner, JSON.stringify([{ i: 0, room_id: roomId, last_read_seq: String(total - 10) }])]);
    expect(stats).toMatch(/Index Scan using messages_room_id_seq_unique on messages/);
    expect(stats).not.toMatch(/Seq Scan on messages|Sort/);
    const timed = async (request: Record<string, unknown>) => {
      const started = performance.now();
      const page = await world.messages.listMessages({ roomId, limit: 100, ...request }, asUser(owner));
      return { ms: performance.now() - started, seqs: seqsOf(page.messages), page };
    };
    await timed({});
    const start = await timed({ cursor: { case: "afterSeq", value: 0n } });
    const end = await timed({});
    const middle = await timed({ cursor: { case: "aroundSeq", value: 50_000n } });
    expect(start.seqs).toEqual(range(1, 100));
    expect(end.seqs).toEqual(range(total - 99, total));
    expect(middle.seqs).toEqual(range(49_950, 50_049));
    expect(end.page.lastSeq).toBe(BigInt(total));
    // Generous bound: an OFFSET or a full scan of 100k rows would take far longer on either database.
    expect(end.ms).toBeLessThan(Math.max(1_000, start.ms * 10));
  }, 120_000);

  it("answers UNAVAILABLE, and stores nothing, when the room service cannot say who is a member", async () => {
    const { owner, roomId } = await room();
    world.fakeRooms.failWith = Code.Unavailable;
    try {
      const error = await failure(world.messages.sendMessage({ roomId, body: "hello?" }, asUser(owner)));
      expect(error?.code).toBe(Code.Unavailable);
    } finally {
      world.fakeRooms.failWith = undefined;
    }
    expect((await world.messages.listMessages({ roomId }, asUser(owner))).lastSeq).toBe(0n);
  });

  it("treats NOT_FOUND from the room service as not a member", async () => {
    const { owner, roomId } = await room();
    world.fakeRooms.failWith = Code.NotFound;
    try {
      const error = await failure(world.messages.sendMessage({ roomId, body: "hello?" }, asUser(owner)));
      expect(error?.code).toBe(Code.NotFound);
      expect(error?.rawMessage).toBe("room not found");
    } finally {
      world.fakeRooms.failWith = undefined;
    }
  });
});

describe("a broker that fails to publish", () => {
  let world: FakeRoomWorld;
  const broker: Broker = new (class extends MemoryBroker {
    override publish(): void {
      throw new Error("broker down");
    }
  })(createLogger("test", "silent"));
  beforeAll(async () => {
    world = await startFakeRoomWorld({ broker });
  });
  afterAll(() => world?.stop());

  it("never makes a committed send, edit or delete fail", async () => {
    const owner = await world.newUser();
    const roomId = await world.createRoom(owner, "private");
    const { message } = await world.messages.sendMessage({ roomId, body: "still stored" }, asUser(owner));
    expect(message?.seq).toBe(1n);
    await world.messages.editMessage({ messageId: message!.id, body: "still edited" }, asUser(owner));
    await world.messages.deleteMessage({ messageId: message!.id }, asUser(owner));
    const page = await world.messages.listMessages({ roomId }, asUser(owner));
    expect(page.messages).toHaveLength(1);
    expect(page.messages[0]?.deleted).toBe(true);
  });
});
