// The message service's behaviours, run against any World: the service next to a
// fake room service, and the whole all-in-one Parley with the real room service.
import { Code, ConnectError } from "@connectrpc/connect";
import { asUser, createLogger, RedisBroker, topics } from "@parley/kit";
import { TEST_REDIS_URL } from "@parley/kit/testing";
import type { Event } from "@parley/proto/events/v1/events_pb";
import type { Message } from "@parley/proto/message/v1/message_pb";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { World } from "./world.js";

export const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => ConnectError.from(e));
export const seqsOf = (messages: Message[]) => messages.map((m) => Number(m.seq));
export const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** Polls until `check` passes (it throws until then), for up to 5 s. */
export async function eventually<T>(check: () => T, timeoutMs = 5_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      return check();
    } catch (error) {
      if (Date.now() - started > timeoutMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

export function describeMessageBehaviours(label: string, start: () => Promise<World>) {
  describe(`message service (${label})`, () => {
    let world: World;
    beforeAll(async () => {
      world = await start();
    });
    afterAll(() => world?.stop());

    const send = async (userId: string, roomId: string, body: string, extra: { clientMsgId?: string; replyToId?: string } = {}) =>
      (await world.messages.sendMessage({ roomId, body, ...extra }, asUser(userId))).message!;
    const list = (userId: string, roomId: string, request: Record<string, unknown> = {}) =>
      world.messages.listMessages({ roomId, ...request }, asUser(userId));
    const stats = (userId: string, rooms: { roomId: string; lastReadSeq: bigint }[]) =>
      world.messages.getRoomStats({ rooms }, asUser(userId)).then((r) => r.stats);
    async function roomWithMembers(count: number, kind: "public" | "private" = "private") {
      const owner = await world.newUser();
      const members: string[] = [];
      for (let i = 0; i < count; i++) members.push(await world.newUser());
      const roomId = await world.createRoom(owner, kind, members);
      return { owner, members, roomId };
    }

    describe("sending and seq", () => {
      it("gives 50 concurrent senders in one room the seqs 1..50, with no gap and no duplicate", async () => {
        const { roomId, members } = await roomWithMembers(50);
        const sent = await Promise.all(members.map((userId, i) => send(userId, roomId, `hello ${i}`)));
        expect(seqsOf(sent).sort((a, b) => a - b)).toEqual(range(1, 50));
        const page = await list(members[0]!, roomId, { limit: 100 });
        expect(seqsOf(page.messages)).toEqual(range(1, 50));
        expect(page.lastSeq).toBe(50n);
        const bySeq = new Map(page.messages.map((m) => [m.seq, m]));
        for (const message of sent) {
          expect(bySeq.get(message.seq)?.id).toBe(message.id);
          expect(bySeq.get(message.seq)?.senderId).toBe(message.senderId);
        }
      });

      it("never shows a page with a hole while concurrent sends commit", async () => {
        const { roomId, members } = await roomWithMembers(10);
        const reader = members[0]!;
        let sending = true;
        const pages: { seqs: number[]; lastSeq: number }[] = [];
        const sends = Promise.all(
          range(1, 60).map((i) => send(members[i % members.length]!, roomId, `burst ${i}`)),
        ).finally(() => (sending = false));
        while (sending) {
          const page = await list(reader, roomId, { limit: 100 });
          pages.push({ seqs: seqsOf(page.messages), lastSeq: Number(page.lastSeq) });
        }
        await sends;
        for (const page of pages) expect(page.seqs).toEqual(range(1, page.lastSeq));
        expect(seqsOf((await list(reader, roomId, { limit: 100 })).messages)).toEqual(range(1, 60));
      });

      it("returns the original message, marked duplicate, when a client_msg_id is sent again, and uses no seq for it", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const alice = members[0]!;
        const first = await world.messages.sendMessage({ roomId, body: "once", clientMsgId: "retry-1" }, asUser(alice));
        const again = await world.messages.sendMessage({ roomId, body: "once", clientMsgId: "retry-1" }, asUser(alice));
        expect(first.duplicate).toBe(false);
        expect(again.duplicate).toBe(true);
        expect(again.message).toEqual(first.message);
        const next = await send(alice, roomId, "next");
        expect(next.seq).toBe(2n);
        expect(seqsOf((await list(alice, roomId)).messages)).toEqual([1, 2]);
      });

      it("stores one message under one seq when 10 sends with the same client_msg_id race", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const alice = members[0]!;
        await send(alice, roomId, "before");
        const responses = await Promise.all(
          range(1, 10).map(() => world.messages.sendMessage({ roomId, body: "racing", clientMsgId: "race:1" }, asUser(alice))),
        );
        expect(responses.filter((r) => !r.duplicate)).toHaveLength(1);
        expect(new Set(responses.map((r) => r.message!.id)).size).toBe(1);
        expect(responses.every((r) => r.message!.seq === 2n)).toBe(true);
        const after = await send(alice, roomId, "after");
        expect(after.seq).toBe(3n);
        const page = await list(alice, roomId);
        expect(seqsOf(page.messages)).toEqual([1, 2, 3]);
        expect(page.messages.filter((m) => m.clientMsgId === "race:1")).toHaveLength(1);
      });

      it("keeps answering a retry with its original after the original was edited or deleted", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const alice = members[0]!;
        const edited = await send(alice, roomId, "typo", { clientMsgId: "later-edited" });
        await world.messages.editMessage({ messageId: edited.id, body: "fixed" }, asUser(alice));
        const retryEdited = await world.messages.sendMessage({ roomId, body: "typo", clientMsgId: "later-edited" }, asUser(alice));
        expect(retryEdited.duplicate).toBe(true);
        expect(retryEdited.message?.body).toBe("fixed");
        const deleted = await send(alice, roomId, "gone soon", { clientMsgId: "later-deleted" });
        await world.messages.deleteMessage({ messageId: deleted.id }, asUser(alice));
        const retryDeleted = await world.messages.sendMessage({ roomId, body: "gone soon", clientMsgId: "later-deleted" }, asUser(alice));
        expect(retryDeleted.duplicate).toBe(true);
        expect(retryDeleted.message?.deleted).toBe(true);
        expect((await list(alice, roomId)).lastSeq).toBe(2n);
      });

      it("answers ALREADY_EXISTS naming client_msg_id when a client_msg_id is reused for another body or room", async () => {
        const { roomId, members, owner } = await roomWithMembers(1);
        const alice = members[0]!;
        const otherRoom = await world.createRoom(owner, "private", [alice]);
        await send(alice, roomId, "original", { clientMsgId: "reused" });
        for (const [room, body] of [
          [roomId, "another text"],
          [otherRoom, "original"],
        ] as const) {
          const error = await failure(world.messages.sendMessage({ roomId: room, body, clientMsgId: "reused" }, asUser(alice)));
          expect(error?.code).toBe(Code.AlreadyExists);
          expect(error?.metadata.get("parley-field")).toBe("client_msg_id");
          expect(error?.rawMessage).toMatch(/client_msg_id/);
        }
        expect((await list(alice, otherRoom)).lastSeq).toBe(0n);
      });

      it("lets two people use the same client_msg_id independently", async () => {
        const { roomId, members } = await roomWithMembers(2);
        const a = await world.messages.sendMessage({ roomId, body: "mine", clientMsgId: "same" }, asUser(members[0]!));
        const b = await world.messages.sendMessage({ roomId, body: "mine", clientMsgId: "same" }, asUser(members[1]!));
        expect(b.duplicate).toBe(false);
        expect(b.message?.id).not.toBe(a.message?.id);
      });

      it("picks a client_msg_id when the client sends none, so two such sends are two messages", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const a = await send(members[0]!, roomId, "same text");
        const b = await send(members[0]!, roomId, "same text");
        expect(a.clientMsgId).toMatch(/^[A-Za-z0-9_\-:.]{1,64}$/);
        expect(b.clientMsgId).not.toBe(a.clientMsgId);
        expect([a.seq, b.seq]).toEqual([1n, 2n]);
      });

      it("rejects client_msg_ids longer than 64 characters or with other characters, naming the field", async () => {
        const { roomId, members } = await roomWithMembers(1);
        for (const clientMsgId of ["x".repeat(65), "has space", "slash/", "é", "semi;"]) {
          const error = await failure(world.messages.sendMessage({ roomId, body: "hi", clientMsgId }, asUser(members[0]!)));
          expect(error?.code, clientMsgId).toBe(Code.InvalidArgument);
          expect(error?.metadata.get("parley-field")).toBe("client_msg_id");
        }
        const ok = await world.messages.sendMessage({ roomId, body: "hi", clientMsgId: `Az09_-:.${"x".repeat(56)}` }, asUser(members[0]!));
        expect(ok.message?.clientMsgId).toHaveLength(64);
      });

      it("returns the stored message with sender, time and the body trimmed", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const before = Date.now();
        const message = await send(members[0]!, roomId, "  \n hello there \t ");
        expect(message).toMatchObject({ roomId, senderId: members[0], body: "hello there", seq: 1n, deleted: false, replyToId: "" });
        expect(message.id).toMatch(/^[0-9a-f-]{36}$/);
        const created = Number(message.createTime!.seconds) * 1000 + message.createTime!.nanos / 1e6;
        expect(created).toBeGreaterThanOrEqual(before - 1_000);
        expect(message.editTime).toBeUndefined();
        expect((await list(members[0]!, roomId)).messages[0]).toEqual(message);
      });

      it("stores quotes, backslashes, question marks, placeholders and emoji verbatim", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const body = `it's "quoted" \\ back\\slash ? ?? $1 :name %s 😀👍🏽 \u00e9\u0301 ; drop table messages; --`;
        const message = await send(members[0]!, roomId, body);
        expect(message.body).toBe(body);
        expect((await list(members[0]!, roomId)).messages[0]?.body).toBe(body);
      });
    });

    describe("bodies", () => {
      it("rejects empty, blank, too long (after trimming, in code points) and NUL-containing bodies, naming the rule", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const cases: [string, RegExp][] = [
          ["", /^body: must be 1-4000 characters after trimming$/],
          [" \n\t ", /^body: must be 1-4000 characters after trimming$/],
          ["x".repeat(4001), /^body: must be 1-4000 characters after trimming$/],
          ["😀".repeat(4001), /^body: must be 1-4000 characters after trimming$/],
          ["nul \u0000 inside", /^body: must not contain NUL/],
        ];
        for (const [body, rule] of cases) {
          const error = await failure(world.messages.sendMessage({ roomId, body }, asUser(members[0]!)));
          expect(error?.code, JSON.stringify(body.slice(0, 10))).toBe(Code.InvalidArgument);
          expect(error?.rawMessage).toMatch(rule);
          expect(error?.metadata.get("parley-field")).toBe("body");
        }
        expect((await list(members[0]!, roomId)).lastSeq).toBe(0n);
      });

      it("accepts 4000 characters counted as code points, and whitespace around them", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const emoji = "😀".repeat(4000);
        expect((await send(members[0]!, roomId, emoji)).body).toBe(emoji);
        const padded = `   ${"y".repeat(4000)}\n\n`;
        expect((await send(members[0]!, roomId, padded)).body).toBe("y".repeat(4000));
      });

      it("applies the same body rules to edits", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const message = await send(members[0]!, roomId, "fine");
        for (const body of ["", "   ", "z".repeat(4001), "a\u0000b"]) {
          const error = await failure(world.messages.editMessage({ messageId: message.id, body }, asUser(members[0]!)));
          expect(error?.code).toBe(Code.InvalidArgument);
          expect(error?.metadata.get("parley-field")).toBe("body");
        }
      });
    });

    describe("who may read and write", () => {
      it("gives a non-member of a private room NOT_FOUND for reading and sending, the same answer as for a room that does not exist", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const message = await send(members[0]!, roomId, "private matters");
        const outsider = await world.newUser();
        const nowhere = uuidv7();
        const answers = await Promise.all([
          failure(list(outsider, roomId)),
          failure(list(outsider, nowhere)),
          failure(world.messages.sendMessage({ roomId, body: "let me in" }, asUser(outsider))),
          failure(world.messages.sendMessage({ roomId: nowhere, body: "let me in" }, asUser(outsider))),
        ]);
        for (const error of answers) {
          expect(error?.code).toBe(Code.NotFound);
          expect(error?.rawMessage).toBe("room not found");
        }
        const [edit, remove, missingEdit] = await Promise.all([
          failure(world.messages.editMessage({ messageId: message.id, body: "mine now" }, asUser(outsider))),
          failure(world.messages.deleteMessage({ messageId: message.id }, asUser(outsider))),
          failure(world.messages.editMessage({ messageId: uuidv7(), body: "mine now" }, asUser(outsider))),
        ]);
        for (const error of [edit, remove, missingEdit]) {
          expect(error?.code).toBe(Code.NotFound);
          expect(error?.rawMessage).toBe("message not found");
        }
        expect((await list(members[0]!, roomId)).lastSeq).toBe(1n);
      });

      it("gives a non-member of a public room NOT_FOUND as well, until they are a member", async () => {
        const { roomId, owner } = await roomWithMembers(0, "public");
        await send(owner, roomId, "welcome");
        const visitor = await world.newUser();
        expect((await failure(list(visitor, roomId)))?.code).toBe(Code.NotFound);
        await world.addMember(roomId, owner, visitor);
        expect(seqsOf((await list(visitor, roomId)).messages)).toEqual([1]);
      });

      it("needs a signed-in caller", async () => {
        const { roomId } = await roomWithMembers(0);
        expect((await failure(world.messages.sendMessage({ roomId, body: "anonymous" })))?.code).toBe(Code.Unauthenticated);
        expect((await failure(world.messages.listMessages({ roomId })))?.code).toBe(Code.Unauthenticated);
        expect((await failure(world.messages.getRoomStats({ rooms: [] })))?.code).toBe(Code.Unauthenticated);
      });

      it("takes send and read access away from a kicked member, and from one who left, on the very next call", async () => {
        const { roomId, owner, members } = await roomWithMembers(2);
        const [kicked, leaver] = members as [string, string];
        await send(kicked, roomId, "still here");
        await send(leaver, roomId, "me too");
        await world.kick(roomId, owner, kicked);
        await world.leave(roomId, leaver);
        for (const userId of [kicked, leaver]) {
          expect((await failure(send(userId, roomId, "am I?")))?.code).toBe(Code.NotFound);
          expect((await failure(list(userId, roomId)))?.code).toBe(Code.NotFound);
        }
        expect((await list(owner, roomId)).lastSeq).toBe(2n);
      });

      it("lets only the sender edit: another member gets PERMISSION_DENIED", async () => {
        const { roomId, owner, members } = await roomWithMembers(2);
        const message = await send(members[0]!, roomId, "mine");
        for (const other of [members[1]!, owner]) {
          const error = await failure(world.messages.editMessage({ messageId: message.id, body: "yours" }, asUser(other)));
          expect(error?.code).toBe(Code.PermissionDenied);
        }
        expect((await list(owner, roomId)).messages[0]?.body).toBe("mine");
      });

      it("lets the sender, a room admin and the owner delete a message, but not another plain member", async () => {
        const { roomId, owner, members } = await roomWithMembers(3);
        const [author, admin, bystander] = members as [string, string, string];
        await world.makeAdmin(roomId, owner, admin);
        const byAuthor = await send(author, roomId, "one");
        const byAdmin = await send(author, roomId, "two");
        const byOwner = await send(author, roomId, "three");
        const denied = await failure(world.messages.deleteMessage({ messageId: byAuthor.id }, asUser(bystander)));
        expect(denied?.code).toBe(Code.PermissionDenied);
        expect((await world.messages.deleteMessage({ messageId: byAuthor.id }, asUser(author))).message?.deleted).toBe(true);
        expect((await world.messages.deleteMessage({ messageId: byAdmin.id }, asUser(admin))).message?.deleted).toBe(true);
        expect((await world.messages.deleteMessage({ messageId: byOwner.id }, asUser(owner))).message?.deleted).toBe(true);
        expect((await list(bystander, roomId)).messages.map((m) => m.deleted)).toEqual([true, true, true]);
      });

      it("refuses sends, edits and deletes in an archived room with FAILED_PRECONDITION, and still serves its history", async () => {
        const { roomId, owner, members } = await roomWithMembers(1);
        const message = await send(members[0]!, roomId, "last words");
        await world.archive(roomId, owner);
        const attempts = await Promise.all([
          failure(send(members[0]!, roomId, "after the end")),
          failure(world.messages.editMessage({ messageId: message.id, body: "changed" }, asUser(members[0]!))),
          failure(world.messages.deleteMessage({ messageId: message.id }, asUser(members[0]!))),
        ]);
        for (const error of attempts) expect(error?.code).toBe(Code.FailedPrecondition);
        expect(seqsOf((await list(members[0]!, roomId)).messages)).toEqual([1]);
      });

      it("accepts a reply to a message of the same room, and refuses one to another room's or an unknown message", async () => {
        const { roomId, owner, members } = await roomWithMembers(1);
        const otherRoom = await world.createRoom(owner, "private", members);
        const parent = await send(owner, roomId, "question?");
        const elsewhere = await send(owner, otherRoom, "elsewhere");
        const reply = await send(members[0]!, roomId, "answer", { replyToId: parent.id });
        expect(reply.replyToId).toBe(parent.id);
        for (const replyToId of [elsewhere.id, uuidv7(), "not-a-uuid"]) {
          const error = await failure(send(members[0]!, roomId, "lost reply", { replyToId }));
          expect(error?.code).toBe(Code.InvalidArgument);
          expect(error?.metadata.get("parley-field")).toBe("reply_to_id");
        }
        expect((await list(owner, roomId)).lastSeq).toBe(2n);
      });
    });

    describe("edits and deletes", () => {
      it("changes the body on edit, sets edit_time, and keeps id, seq and create_time", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const original = await send(members[0]!, roomId, "frist");
        const { message: edited } = await world.messages.editMessage({ messageId: original.id, body: " first " }, asUser(members[0]!));
        expect(edited).toMatchObject({ id: original.id, seq: original.seq, body: "first", createTime: original.createTime });
        expect(edited?.editTime).toBeDefined();
        expect((await list(members[0]!, roomId)).messages[0]).toEqual(edited);
      });

      it("leaves a tombstone that keeps id and seq but no text, is idempotent, and cannot be edited", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const alice = members[0]!;
        await send(alice, roomId, "one");
        const doomed = await send(alice, roomId, "two");
        await world.messages.editMessage({ messageId: doomed.id, body: "two, edited" }, asUser(alice));
        await send(alice, roomId, "three");
        const { message: tombstone } = await world.messages.deleteMessage({ messageId: doomed.id }, asUser(alice));
        expect(tombstone).toMatchObject({ id: doomed.id, seq: 2n, body: "", deleted: true, roomId });
        expect(tombstone?.deleteTime).toBeDefined();
        const again = await world.messages.deleteMessage({ messageId: doomed.id }, asUser(alice));
        expect(again.message).toEqual(tombstone);
        const page = await list(alice, roomId);
        expect(seqsOf(page.messages)).toEqual([1, 2, 3]);
        expect(page.messages[1]).toEqual(tombstone);
        const edit = await failure(world.messages.editMessage({ messageId: doomed.id, body: "resurrect" }, asUser(alice)));
        expect(edit?.code).toBe(Code.FailedPrecondition);
      });

      it("lists an edited message's earlier texts newest first with when each was written and replaced; a deleted message's are gone", async () => {
        const { roomId, members, owner } = await roomWithMembers(1);
        const alice = members[0]!;
        const message = await send(alice, roomId, "v1");
        const versionsOf = async (userId: string, messageId = message.id) =>
          (await world.messages.listMessageVersions({ messageId }, asUser(userId))).versions;
        expect(await versionsOf(alice)).toEqual([]);
        const edits: Message[] = [];
        for (const body of ["v2", "v3", "v3", "v4"]) {
          edits.push((await world.messages.editMessage({ messageId: message.id, body }, asUser(alice))).message!);
        }
        // Another member reads them too; an edit to the same text is no version.
        const versions = await versionsOf(owner);
        expect(versions.map((v) => [v.version, v.body])).toEqual([
          [3, "v3"],
          [2, "v2"],
          [1, "v1"],
        ]);
        expect(versions[2]!.createTime).toEqual(message.createTime);
        expect(versions[2]!.replaceTime).toEqual(versions[1]!.createTime);
        expect(versions[1]!.createTime).toEqual(edits[0]!.editTime);
        expect(versions[0]!.createTime).toEqual(edits[1]!.editTime);
        expect(versions[0]!.replaceTime).toEqual(edits[3]!.editTime);
        await world.messages.deleteMessage({ messageId: message.id }, asUser(alice));
        expect(await versionsOf(alice)).toEqual([]);
      });

      it("answers NOT_FOUND alike for the versions of a message in a room the caller is not in and of a random id", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const outsider = await world.newUser();
        const message = await send(members[0]!, roomId, "secret");
        await world.messages.editMessage({ messageId: message.id, body: "secret, edited" }, asUser(members[0]!));
        const answers = await Promise.all([
          failure(world.messages.listMessageVersions({ messageId: message.id }, asUser(outsider))),
          failure(world.messages.listMessageVersions({ messageId: uuidv7() }, asUser(outsider))),
        ]);
        for (const error of answers) {
          expect(error?.code).toBe(Code.NotFound);
          expect(error?.rawMessage).toBe("message not found");
        }
        expect((await failure(world.messages.listMessageVersions({ messageId: "42" }, asUser(outsider))))?.code).toBe(Code.InvalidArgument);
      });

      it("answers NOT_FOUND for a message that does not exist and INVALID_ARGUMENT for a malformed id", async () => {
        const alice = await world.newUser();
        expect((await failure(world.messages.deleteMessage({ messageId: uuidv7() }, asUser(alice))))?.code).toBe(Code.NotFound);
        expect((await failure(world.messages.deleteMessage({ messageId: "42" }, asUser(alice))))?.code).toBe(Code.InvalidArgument);
      });
    });

    describe("history pages", () => {
      let reader: string;
      let roomId: string;
      beforeAll(async () => {
        const room = await roomWithMembers(1);
        reader = room.members[0]!;
        roomId = room.roomId;
        for (let i = 1; i <= 25; i++) await send(i % 2 ? reader : room.owner, roomId, `message ${i}`);
      });

      const cases: [string, Record<string, unknown>, number[], boolean, boolean][] = [
        ["newest", { limit: 10 }, range(16, 25), true, false],
        ["before 16", { cursor: { case: "beforeSeq", value: 16n }, limit: 10 }, range(6, 15), true, true],
        ["before 6", { cursor: { case: "beforeSeq", value: 6n }, limit: 10 }, range(1, 5), false, true],
        ["before 1", { cursor: { case: "beforeSeq", value: 1n }, limit: 10 }, [], false, true],
        ["before 1000", { cursor: { case: "beforeSeq", value: 1000n }, limit: 5 }, range(21, 25), true, false],
        ["after 0", { cursor: { case: "afterSeq", value: 0n }, limit: 10 }, range(1, 10), false, true],
        ["after 10", { cursor: { case: "afterSeq", value: 10n }, limit: 10 }, range(11, 20), true, true],
        ["after 20", { cursor: { case: "afterSeq", value: 20n }, limit: 10 }, range(21, 25), true, false],
        ["after 25", { cursor: { case: "afterSeq", value: 25n }, limit: 10 }, [], true, false],
        ["around 13", { cursor: { case: "aroundSeq", value: 13n }, limit: 10 }, range(8, 17), true, true],
        ["around 3", { cursor: { case: "aroundSeq", value: 3n }, limit: 10 }, range(1, 7), false, true],
        ["around 24", { cursor: { case: "aroundSeq", value: 24n }, limit: 10 }, range(19, 25), true, false],
        ["around 13, odd limit", { cursor: { case: "aroundSeq", value: 13n }, limit: 5 }, range(11, 15), true, true],
        ["around 13, limit 1", { cursor: { case: "aroundSeq", value: 13n }, limit: 1 }, [13], true, true],
        ["everything (default limit)", {}, range(1, 25), false, false],
      ];
      for (const [name, request, expected, hasOlder, hasNewer] of cases) {
        it(`returns exactly the right seqs, ascending, with has_older/has_newer: ${name}`, async () => {
          const page = await list(reader, roomId, request);
          expect(seqsOf(page.messages)).toEqual(expected);
          expect({ hasOlder: page.hasOlder, hasNewer: page.hasNewer }).toEqual({ hasOlder, hasNewer });
          expect(page.lastSeq).toBe(25n);
        });
      }

      it("walks the whole history backwards and forwards with the cursors, seeing each seq once", async () => {
        const backwards: number[] = [];
        let page = await list(reader, roomId, { limit: 7 });
        backwards.unshift(...seqsOf(page.messages));
        while (page.hasOlder) {
          page = await list(reader, roomId, { cursor: { case: "beforeSeq", value: page.messages[0]!.seq }, limit: 7 });
          backwards.unshift(...seqsOf(page.messages));
        }
        expect(backwards).toEqual(range(1, 25));
        const forwards: number[] = [];
        let cursor = 0n;
        for (;;) {
          const next = await list(reader, roomId, { cursor: { case: "afterSeq", value: cursor }, limit: 7 });
          forwards.push(...seqsOf(next.messages));
          if (!next.hasNewer) break;
          cursor = next.messages.at(-1)!.seq;
        }
        expect(forwards).toEqual(range(1, 25));
      });

      it("serves 50 messages by default and at most 100, refusing other limits and negative cursors", async () => {
        const { roomId: big, members } = await roomWithMembers(1);
        await Promise.all(range(1, 120).map((i) => send(members[0]!, big, `bulk ${i}`)));
        expect(seqsOf((await list(members[0]!, big)).messages)).toEqual(range(71, 120));
        expect(seqsOf((await list(members[0]!, big, { limit: 100 })).messages)).toEqual(range(21, 120));
        for (const request of [{ limit: 101 }, { limit: -1 }, { cursor: { case: "beforeSeq", value: -1n } }]) {
          const error = await failure(list(members[0]!, big, request));
          expect(error?.code, JSON.stringify(request, (_, v) => (typeof v === "bigint" ? String(v) : v))).toBe(Code.InvalidArgument);
        }
      });

      it("gives an empty room an empty page with last_seq 0", async () => {
        const { roomId: empty, owner } = await roomWithMembers(0);
        expect(await list(owner, empty)).toMatchObject({ messages: [], hasOlder: false, hasNewer: false, lastSeq: 0n });
      });
    });

    describe("room stats", () => {
      it("counts unread messages after the read position that are not deleted and not the caller's own", async () => {
        const { roomId, owner, members } = await roomWithMembers(2);
        const [alice, bob] = members as [string, string];
        const emptyRoom = await world.createRoom(owner, "private", [alice]);
        await send(alice, roomId, "1");
        const fromBob = await send(bob, roomId, "2");
        await send(alice, roomId, "3");
        await send(bob, roomId, "4");
        await send(owner, roomId, "5");

        const [forAlice, forEmpty, forAliceRead2] = await stats(alice, [
          { roomId, lastReadSeq: 0n },
          { roomId: emptyRoom, lastReadSeq: 0n },
          { roomId, lastReadSeq: 2n },
        ]);
        expect(forAlice).toMatchObject({ roomId, lastSeq: 5n, unreadCount: 3n });
        expect(forAlice?.lastActivityTime).toBeDefined();
        expect(forEmpty).toMatchObject({ roomId: emptyRoom, lastSeq: 0n, unreadCount: 0n });
        expect(forEmpty?.lastActivityTime).toBeUndefined();
        expect(forAliceRead2?.unreadCount).toBe(2n);
        expect((await stats(bob, [{ roomId, lastReadSeq: 0n }]))[0]?.unreadCount).toBe(3n);
        expect((await stats(alice, [{ roomId, lastReadSeq: 5n }]))[0]?.unreadCount).toBe(0n);
        expect((await stats(alice, [{ roomId, lastReadSeq: 99n }]))[0]?.unreadCount).toBe(0n);

        await world.messages.deleteMessage({ messageId: fromBob.id }, asUser(bob));
        expect((await stats(alice, [{ roomId, lastReadSeq: 0n }]))[0]).toMatchObject({ lastSeq: 5n, unreadCount: 2n });
      });

      it("moves last_activity_time with each new message", async () => {
        const { roomId, owner } = await roomWithMembers(0);
        await send(owner, roomId, "first");
        const [before] = await stats(owner, [{ roomId, lastReadSeq: 0n }]);
        await new Promise((resolve) => setTimeout(resolve, 20));
        const latest = await send(owner, roomId, "second");
        const [after] = await stats(owner, [{ roomId, lastReadSeq: 0n }]);
        expect(after?.lastActivityTime).toEqual(latest.createTime);
        const ms = (t: typeof before) => Number(t!.lastActivityTime!.seconds) * 1000 + t!.lastActivityTime!.nanos / 1e6;
        expect(ms(after)).toBeGreaterThan(ms(before));
      });

      it("answers up to 1000 rooms in request order and refuses more", async () => {
        const { roomId, owner } = await roomWithMembers(0);
        await send(owner, roomId, "x");
        const rooms = range(1, 1000).map((i) => ({ roomId: i === 500 ? roomId : uuidv7(), lastReadSeq: 0n }));
        const answer = await stats(owner, rooms);
        expect(answer.map((s) => s.roomId)).toEqual(rooms.map((r) => r.roomId));
        expect(answer[499]).toMatchObject({ lastSeq: 1n, unreadCount: 0n });
        const tooMany = await failure(stats(owner, [...rooms, { roomId, lastReadSeq: 0n }]));
        expect(tooMany?.code).toBe(Code.InvalidArgument);
        const negative = await failure(stats(owner, [{ roomId, lastReadSeq: -1n }]));
        expect(negative?.code).toBe(Code.InvalidArgument);
      });
    });

    describe("read markers", () => {
      it("caps MarkRead at the room's newest message and never moves the marker back", async () => {
        const { owner, members, roomId } = await roomWithMembers(1);
        const reader = members[0]!;
        const mark = async (seq: bigint) => (await world.messages.markRead({ roomId, seq }, asUser(reader))).lastReadSeq;
        expect(await mark(5n)).toBe(0n);
        for (let i = 0; i < 3; i++) await send(owner, roomId, `m${i}`);
        expect(await mark(2n)).toBe(2n);
        expect(await mark(1n)).toBe(2n);
        expect(await mark(100n)).toBe(3n);
        await send(owner, roomId, "later");
        expect((await stats(reader, [{ roomId, lastReadSeq: 3n }]))[0]?.unreadCount).toBe(1n);
      });

      it("answers NOT_FOUND to a non-member of a private room, as for a room that does not exist, and refuses a negative seq", async () => {
        const { roomId } = await roomWithMembers(0);
        const outsider = await world.newUser();
        const hidden = await failure(world.messages.markRead({ roomId, seq: 1n }, asUser(outsider)));
        const missing = await failure(world.messages.markRead({ roomId: uuidv7(), seq: 1n }, asUser(outsider)));
        expect(hidden?.code).toBe(Code.NotFound);
        expect([missing?.code, missing?.rawMessage]).toEqual([hidden?.code, hidden?.rawMessage]);
        const negative = await failure(world.messages.markRead({ roomId, seq: -1n }, asUser(outsider)));
        expect([negative?.code, negative?.metadata.get("parley-field")]).toEqual([Code.InvalidArgument, "seq"]);
      });
    });

    describe("the room's stream (message lane)", () => {
      const changes = (userId: string, roomId: string, after: bigint, limit = 0) =>
        world.messages.listChanges({ roomId, after, limit }, asUser(userId));
      /** Every page of the lane after a position. */
      async function allChanges(userId: string, roomId: string, after: bigint, limit: number) {
        const pages: Message[][] = [];
        let position = after;
        for (;;) {
          const page = await changes(userId, roomId, position, limit);
          pages.push(page.messages);
          expect(page.lastChange).toBeGreaterThanOrEqual(position);
          position = page.lastChange;
          if (!page.hasMore) return { pages, position, messages: pages.flat() };
        }
      }

      it("gives each create, edit and delete the room's next position, and returns each changed message once, at its latest change", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const alice = members[0]!;
        const one = await send(alice, roomId, "one");
        const two = await send(alice, roomId, "two");
        const three = await send(alice, roomId, "three");
        expect([one.change, two.change, three.change]).toEqual([1n, 2n, 3n]);
        const { message: edited } = await world.messages.editMessage({ messageId: one.id, body: "one, edited" }, asUser(alice));
        expect(edited?.change).toBe(4n);
        // The same text again changes nothing and takes no position.
        expect((await world.messages.editMessage({ messageId: one.id, body: "one, edited" }, asUser(alice))).message?.change).toBe(4n);
        const { message: tombstone } = await world.messages.deleteMessage({ messageId: two.id }, asUser(alice));
        expect(tombstone?.change).toBe(5n);
        expect((await world.messages.deleteMessage({ messageId: two.id }, asUser(alice))).message?.change).toBe(5n);
        const edited2 = (await world.messages.editMessage({ messageId: one.id, body: "one, again" }, asUser(alice))).message!;
        expect(edited2.change).toBe(6n);

        const all = await changes(alice, roomId, 0n);
        expect(all.messages.map((m) => [m.id, m.change])).toEqual([
          [three.id, 3n],
          [two.id, 5n],
          [one.id, 6n],
        ]);
        expect(all.messages[1]).toMatchObject({ deleted: true, body: "", seq: 2n });
        expect(all.messages[2]).toMatchObject({ body: "one, again", seq: 1n });
        expect(all).toMatchObject({ hasMore: false, lastChange: 6n, lastSeq: 3n });
        expect((await changes(alice, roomId, 5n)).messages.map((m) => m.id)).toEqual([one.id]);
        expect(await changes(alice, roomId, 6n)).toMatchObject({ messages: [], hasMore: false, lastChange: 6n });
        // A history page says where the lane stood when it was read.
        expect((await list(alice, roomId)).lastChange).toBe(6n);
        // A client that knows only seqs (Subscribe.after_seq): every message after seq 2, and every change made since.
        const bySeq = await world.messages.listChanges({ roomId, after: 0n, afterSeq: 2n }, asUser(alice));
        expect(bySeq.messages.map((m) => m.id)).toEqual([three.id, two.id, one.id]);
        const byNewest = await world.messages.listChanges({ roomId, after: 0n, afterSeq: 3n }, asUser(alice));
        expect(byNewest).toMatchObject({ messages: [], hasMore: false, lastChange: 6n });
        // A seq beyond the head starts at the head.
        expect((await world.messages.listChanges({ roomId, after: 0n, afterSeq: 99n }, asUser(alice))).messages).toEqual([]);
        const [stat] = (await world.messages.getRoomStats({ rooms: [{ roomId, lastReadSeq: 0n }] }, asUser(alice))).stats;
        expect(stat).toMatchObject({ lastSeq: 3n, lastChange: 6n });
      });

      it("keeps the lane gapless in commit order while sends, retries, edits and deletes race, and pages it without a duplicate or a miss", async () => {
        const { roomId, members } = await roomWithMembers(6);
        const base = await Promise.all(range(1, 30).map((i) => send(members[i % 6]!, roomId, `base ${i}`, { clientMsgId: `base-${i}` })));
        const work = [
          ...base.slice(0, 20).map((m) => world.messages.editMessage({ messageId: m.id, body: `${m.body} (edited)` }, asUser(m.senderId))),
          ...base.slice(20, 30).map((m) => world.messages.deleteMessage({ messageId: m.id }, asUser(m.senderId))),
          ...range(1, 20).map((i) => send(members[i % 6]!, roomId, `more ${i}`)),
          // Retries roll back after taking a seq and a position: neither may be lost.
          ...range(1, 10).map((i) => send(members[i % 6]!, roomId, `base ${i}`, { clientMsgId: `base-${i}` })),
        ];
        await Promise.all(work);
        const { messages, position, pages } = await allChanges(members[0]!, roomId, 0n, 7);
        expect(pages.length).toBeGreaterThan(1);
        // 30 + 20 edits + 10 deletes + 20 sends = 80 positions; 50 messages, each once at its latest.
        expect(position).toBe(80n);
        expect(messages).toHaveLength(50);
        expect(new Set(messages.map((m) => m.id)).size).toBe(50);
        const positions = messages.map((m) => Number(m.change));
        expect(positions).toEqual([...positions].sort((a, b) => a - b));
        // The lane from 0 ends in the state a fresh load shows.
        const fresh = await list(members[0]!, roomId, { limit: 100 });
        const byId = new Map(messages.map((m) => [m.id, m]));
        for (const message of fresh.messages) expect(byId.get(message.id)).toEqual(message);
        // Resuming from the middle gives exactly what changed after it.
        const middle = BigInt(positions[24]!);
        const rest = await allChanges(members[0]!, roomId, middle, 100);
        expect(rest.messages.map((m) => m.id)).toEqual(messages.slice(25).map((m) => m.id));
      });

      it("refuses a position ahead of the room with OUT_OF_RANGE, bad input with INVALID_ARGUMENT, and a non-member with NOT_FOUND", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const alice = members[0]!;
        await send(alice, roomId, "one");
        const ahead = await failure(changes(alice, roomId, 2n));
        expect(ahead?.code).toBe(Code.OutOfRange);
        expect(ahead?.rawMessage).toMatch(/ahead of the room's stream \(1\).*load it afresh/);
        expect((await failure(changes(alice, roomId, -1n)))?.code).toBe(Code.InvalidArgument);
        expect((await failure(changes(alice, roomId, 0n, 501)))?.code).toBe(Code.InvalidArgument);
        expect((await failure(changes(alice, "not-a-room", 0n)))?.code).toBe(Code.InvalidArgument);
        const stranger = await world.newUser();
        expect((await failure(changes(stranger, roomId, 0n)))?.code).toBe(Code.NotFound);
        expect((await failure(changes(stranger, uuidv7(), 0n)))?.code).toBe(Code.NotFound);
      });

      it("publishes each change with its position in Event.change", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const alice = members[0]!;
        const events: Event[] = [];
        const unsubscribe = await world.broker.subscribe(topics.room(roomId), (event) => events.push(event));
        try {
          const created = await send(alice, roomId, "hello");
          await world.messages.editMessage({ messageId: created.id, body: "hello!" }, asUser(alice));
          await world.messages.deleteMessage({ messageId: created.id }, asUser(alice));
          await eventually(() => expect(events).toHaveLength(3));
          expect(events.map((e) => [e.change, (e.payload.value as { message: Message }).message.change])).toEqual([
            [1n, 1n],
            [2n, 2n],
            [3n, 3n],
          ]);
        } finally {
          await unsubscribe();
        }
      });
    });

    describe("events", () => {
      it("publishes MessageCreated, MessageEdited and MessageDeleted with the room id and seq, and nothing for a retry or a repeated delete", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const alice = members[0]!;
        const events: Event[] = [];
        const unsubscribe = await world.broker.subscribe(topics.room(roomId), (event) => events.push(event));
        try {
          const created = await send(alice, roomId, "hello", { clientMsgId: "evt-1" });
          await world.messages.editMessage({ messageId: created.id, body: "hello!" }, asUser(alice));
          await world.messages.deleteMessage({ messageId: created.id }, asUser(alice));
          await eventually(() => expect(events).toHaveLength(3));
          expect(events.map((e) => e.payload.case)).toEqual(["messageCreated", "messageEdited", "messageDeleted"]);
          for (const event of events) {
            expect(event.roomId).toBe(roomId);
            expect(event.id).not.toBe("");
            const message = (event.payload.value as { message?: Message }).message;
            expect(message).toMatchObject({ id: created.id, roomId, seq: 1n });
          }
          expect((events[0]!.payload.value as { message: Message }).message.body).toBe("hello");
          expect((events[1]!.payload.value as { message: Message }).message.body).toBe("hello!");
          expect((events[2]!.payload.value as { message: Message }).message).toMatchObject({ body: "", deleted: true });

          // Repeats change nothing and publish nothing; the marker's event arrives right after the delete's.
          await world.messages.sendMessage({ roomId, body: "hello", clientMsgId: "evt-1" }, asUser(alice));
          await world.messages.deleteMessage({ messageId: created.id }, asUser(alice));
          const marker = await send(alice, roomId, "marker");
          // The marker's event comes after anything the repeats could have published (one publisher, in order).
          await eventually(() => expect(events.at(-1)?.payload.case).toBe("messageCreated"));
          expect(events).toHaveLength(4);
          expect((events[3]!.payload.value as { message: Message }).message).toMatchObject({ id: marker.id, seq: 2n });
        } finally {
          await unsubscribe();
        }
      });

      it.skipIf(!TEST_REDIS_URL)("delivers MessageCreated to a separate RedisBroker subscriber connection", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const subscriber = new RedisBroker(TEST_REDIS_URL!, createLogger("test-subscriber", "silent"), world.redisPrefix);
        try {
          await subscriber.ready();
          const events: Event[] = [];
          await subscriber.subscribe(topics.room(roomId), (event) => events.push(event));
          const first = await send(members[0]!, roomId, "over redis");
          const second = await send(members[0]!, roomId, "again");
          await eventually(() => expect(events).toHaveLength(2));
          expect(events.map((e) => [e.payload.case, e.roomId, (e.payload.value as { message: Message }).message.seq])).toEqual([
            ["messageCreated", roomId, first.seq],
            ["messageCreated", roomId, second.seq],
          ]);
          expect((events[0]!.payload.value as { message: Message }).message.id).toBe(first.id);
        } finally {
          await subscriber.close();
        }
      });
    });
    // --- reactions ---
    describe("reactions", () => {
      const add = (userId: string, messageId: string, emoji: string) =>
        world.messages.addReaction({ messageId, emoji }, asUser(userId)).then((r) => r.message!);
      const remove = (userId: string, messageId: string, emoji: string) =>
        world.messages.removeReaction({ messageId, emoji }, asUser(userId)).then((r) => r.message!);
      const summary = (message: Message) => message.reactions.map((r) => [r.emoji, r.count, r.userIds]);

      it("toggles a reaction, counts who reacted in order, and stores a shortcode as its emoji", async () => {
        const { roomId, members } = await roomWithMembers(2);
        const [alice, bob] = members as [string, string];
        const message = await send(alice, roomId, "react to me");
        expect(summary(await add(alice, message.id, "👍"))).toEqual([["👍", 1, [alice]]]);
        expect(summary(await add(bob, message.id, ":+1:"))).toEqual([["👍", 2, [alice, bob]]]);
        expect(summary(await add(bob, message.id, ":tada:"))).toEqual([
          ["👍", 2, [alice, bob]],
          ["🎉", 1, [bob]],
        ]);
        expect(summary(await remove(alice, message.id, "👍"))).toEqual([
          ["👍", 1, [bob]],
          ["🎉", 1, [bob]],
        ]);
        // Reading the history shows them too.
        const page = await list(alice, roomId);
        expect(summary(page.messages[0]!)).toEqual([
          ["👍", 1, [bob]],
          ["🎉", 1, [bob]],
        ]);
        expect(summary(await remove(bob, message.id, "🎉"))).toEqual([["👍", 1, [bob]]]);
      });

      it("counts the same emoji from the same person once: a repeated or racing add changes nothing and takes no position", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const alice = members[0]!;
        const message = await send(alice, roomId, "once");
        const results = await Promise.all(Array.from({ length: 8 }, () => add(alice, message.id, "🎉")));
        for (const result of results) expect(summary(result)).toEqual([["🎉", 1, [alice]]]);
        expect(results.map((r) => r.change).sort()).toEqual(Array.from({ length: 8 }, () => 2n));
        expect((await add(alice, message.id, ":tada:")).change).toBe(2n);
        // Removing one the caller does not have changes nothing either.
        expect((await remove(alice, message.id, "👍")).change).toBe(2n);
      });

      it("bumps the message's change with each add and remove, so the message lane brings it once in its current state", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const alice = members[0]!;
        const first = await send(alice, roomId, "first");
        const second = await send(alice, roomId, "second");
        expect((await add(alice, first.id, "😀")).change).toBe(3n);
        expect((await add(alice, first.id, "👍🏽")).change).toBe(4n);
        expect((await remove(alice, first.id, "😀")).change).toBe(5n);
        const lane = await world.messages.listChanges({ roomId, after: 2n }, asUser(alice));
        expect(lane.messages.map((m) => [m.id, m.change])).toEqual([[first.id, 5n]]);
        expect(summary(lane.messages[0]!)).toEqual([["👍🏽", 1, [alice]]]);
        expect(lane.lastChange).toBe(5n);
        expect(second.change).toBe(2n);
      });

      it("publishes a reaction as MessageEdited with every reaction, at its position, and nothing for a repeat", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const alice = members[0]!;
        const message = await send(alice, roomId, "live");
        const events: Event[] = [];
        const unsubscribe = await world.broker.subscribe(topics.room(roomId), (event) => events.push(event));
        try {
          await add(alice, message.id, "❤️");
          await add(alice, message.id, "❤️");
          await remove(alice, message.id, "❤️");
          const marker = await send(alice, roomId, "marker");
          await eventually(() => expect(events.at(-1)?.change).toBe(marker.change));
          expect(events.map((e) => [e.payload.case, e.change, (e.payload.value as { message: Message }).message.reactions.length])).toEqual([
            ["messageEdited", 2n, 1],
            ["messageEdited", 3n, 0],
            ["messageCreated", 4n, 0],
          ]);
        } finally {
          await unsubscribe();
        }
      });

      it("accepts skin tones, ZWJ sequences and flags, and rejects text, several emoji, unknown shortcodes and long input with INVALID_ARGUMENT", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const alice = members[0]!;
        const message = await send(alice, roomId, "emoji");
        for (const emoji of ["👋🏿", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷", "1️⃣", ":smile:", "❤"]) {
          expect((await add(alice, message.id, emoji)).reactions.length).toBeGreaterThan(0);
        }
        expect((await list(alice, roomId)).messages[0]!.reactions.map((r) => r.emoji)).toContain("❤️");
        for (const emoji of ["", "a", "hello", "👍👍", ":nope_not_a_code:", "<script>", "👍".repeat(40), ":tada"]) {
          const error = await failure(add(alice, message.id, emoji));
          expect(error?.code, emoji).toBe(Code.InvalidArgument);
          expect(error?.rawMessage).toMatch(/emoji/);
        }
        expect((await failure(add(alice, "not-a-uuid", "👍")))?.code).toBe(Code.InvalidArgument);
      });

      it("gives a non-member of a private room NOT_FOUND, as for a message that does not exist, before looking at the emoji", async () => {
        const { roomId, members } = await roomWithMembers(1);
        const outsider = await world.newUser();
        const message = await send(members[0]!, roomId, "private");
        await add(members[0]!, message.id, "👍");
        for (const emoji of ["👍", "not an emoji"]) {
          const hidden = await failure(add(outsider, message.id, emoji));
          const missing = await failure(add(outsider, uuidv7(), emoji));
          expect(hidden?.code).toBe(Code.NotFound);
          expect(hidden?.rawMessage).toBe(missing?.rawMessage);
          expect((await failure(remove(outsider, message.id, emoji)))?.code).toBe(Code.NotFound);
        }
        const { roomId: publicRoom, members: publicMembers } = await roomWithMembers(1, "public");
        const publicMessage = await send(publicMembers[0]!, publicRoom, "public");
        expect((await failure(add(outsider, publicMessage.id, "👍")))?.code).toBe(Code.NotFound);
      });

      it("refuses reactions to a deleted message and in an archived room with FAILED_PRECONDITION", async () => {
        const { roomId, owner, members } = await roomWithMembers(1);
        const alice = members[0]!;
        const message = await send(alice, roomId, "soon gone");
        await add(alice, message.id, "👍");
        const { message: tombstone } = await world.messages.deleteMessage({ messageId: message.id }, asUser(alice));
        expect(tombstone?.reactions.map((r) => r.emoji)).toEqual(["👍"]);
        expect((await failure(add(alice, message.id, "🎉")))?.code).toBe(Code.FailedPrecondition);
        expect((await failure(remove(alice, message.id, "👍")))?.code).toBe(Code.FailedPrecondition);
        const kept = await send(alice, roomId, "kept");
        await world.archive(roomId, owner);
        expect((await failure(add(alice, kept.id, "🎉")))?.code).toBe(Code.FailedPrecondition);
      });
    });

    // --- pins (issue 16) ---
    describe("pins", () => {
      const pin = (userId: string, messageId: string) => world.messages.pinMessage({ messageId }, asUser(userId)).then((r) => r.message!);
      const unpin = (userId: string, messageId: string) => world.messages.unpinMessage({ messageId }, asUser(userId)).then((r) => r.message!);
      const pins = (userId: string, roomId: string, request: { limit?: number; pageToken?: string } = {}) =>
        world.messages.listPins({ roomId, ...request }, asUser(userId));

      it("lets the owner and admins pin and unpin, each taking the message's next stream position", async () => {
        const { owner, members, roomId } = await roomWithMembers(2);
        await world.makeAdmin(roomId, owner, members[0]!);
        const message = await send(members[1]!, roomId, "pin me");
        const pinned = await pin(members[0]!, message.id);
        expect(pinned).toMatchObject({ id: message.id, pinnedById: members[0], change: message.change + 1n, body: "pin me" });
        expect(pinned.pinTime).toBeDefined();
        // Pinning again changes nothing and takes no position.
        expect((await pin(owner, message.id)).change).toBe(pinned.change);
        const unpinned = await unpin(owner, message.id);
        expect(unpinned).toMatchObject({ pinnedById: "", change: pinned.change + 1n });
        expect(unpinned.pinTime).toBeUndefined();
        const changes = await world.messages.listChanges({ roomId, after: message.change }, asUser(members[1]!));
        expect(changes.messages.map((m) => [m.id, m.change, m.pinnedById])).toEqual([[message.id, unpinned.change, ""]]);
      });

      it("refuses a plain member (PERMISSION_DENIED) unless the room lets every member pin", async () => {
        const { owner, members, roomId } = await roomWithMembers(1);
        const message = await send(owner, roomId, "hello");
        expect((await failure(pin(members[0]!, message.id)))?.code).toBe(Code.PermissionDenied);
        expect((await failure(unpin(members[0]!, message.id)))?.code).toBe(Code.PermissionDenied);
        await world.setMembersCanPin(roomId, owner, true);
        expect((await pin(members[0]!, message.id)).pinnedById).toBe(members[0]);
        await world.setMembersCanPin(roomId, owner, false);
        expect((await failure(unpin(members[0]!, message.id)))?.code).toBe(Code.PermissionDenied);
      });

      it("lists a room's pins newest pin first, paged, and drops deleted and unpinned messages", async () => {
        const { owner, roomId } = await roomWithMembers(0);
        const sent = [];
        for (let i = 0; i < 5; i++) sent.push(await send(owner, roomId, `m${i}`));
        for (const i of [3, 0, 4, 1, 2]) await pin(owner, sent[i]!.id);
        const first = await pins(owner, roomId, { limit: 2 });
        expect(first.messages.map((m) => m.body)).toEqual(["m2", "m1"]);
        expect(first.nextPageToken).not.toBe("");
        const second = await pins(owner, roomId, { limit: 2, pageToken: first.nextPageToken });
        expect(second.messages.map((m) => m.body)).toEqual(["m4", "m0"]);
        const third = await pins(owner, roomId, { limit: 2, pageToken: second.nextPageToken });
        expect(third.messages.map((m) => m.body)).toEqual(["m3"]);
        expect(third.nextPageToken).toBe("");
        await world.messages.deleteMessage({ messageId: sent[2]!.id }, asUser(owner));
        await unpin(owner, sent[1]!.id);
        expect((await pins(owner, roomId)).messages.map((m) => m.body)).toEqual(["m4", "m0", "m3"]);
        expect((await failure(pin(owner, sent[2]!.id)))?.code).toBe(Code.FailedPrecondition);
      });

      it("answers a non-member of a private room exactly like a random id, and rejects bad input", async () => {
        const { owner, roomId } = await roomWithMembers(0);
        const outsider = await world.newUser();
        const message = await send(owner, roomId, "secret");
        await pin(owner, message.id);
        const listed = await failure(pins(outsider, roomId));
        const random = await failure(pins(outsider, uuidv7()));
        expect([listed?.code, listed?.rawMessage]).toEqual([random?.code, random?.rawMessage]);
        expect(listed?.code).toBe(Code.NotFound);
        const pinned = await failure(pin(outsider, message.id));
        const pinnedRandom = await failure(pin(outsider, uuidv7()));
        expect([pinned?.code, pinned?.rawMessage]).toEqual([pinnedRandom?.code, pinnedRandom?.rawMessage]);
        expect((await failure(pin(owner, "nope")))?.code).toBe(Code.InvalidArgument);
        expect((await failure(pins(owner, roomId, { pageToken: "garbage" })))?.code).toBe(Code.InvalidArgument);
        expect((await failure(pins(owner, roomId, { limit: 1000 })))?.code).toBe(Code.InvalidArgument);
      });
    });
    // --- threads (issue 16) ---
    describe("threads", () => {
      const reply = (userId: string, roomId: string, rootId: string, body: string, alsoSendToRoom = false) =>
        world.messages.sendMessage({ roomId, body, threadRootId: rootId, alsoSendToRoom }, asUser(userId)).then((r) => r.message!);
      const thread = (userId: string, rootId: string) => world.messages.getThread({ rootId }, asUser(userId)).then((r) => r.thread!);
      const threads = (userId: string, roomIds: string[], request: { limit?: number; pageToken?: string; unreadOnly?: boolean } = {}) =>
        world.messages.listThreads({ roomIds, ...request }, asUser(userId));
      const statsOf = async (userId: string, roomId: string) => (await stats(userId, [{ roomId, lastReadSeq: 0n }]))[0]!;

      it("gives a reply the room's next seq, keeps it out of the room's timeline unless also sent there, and pages a thread by seq", async () => {
        const { owner, members, roomId } = await roomWithMembers(1);
        const bob = members[0]!;
        const root = await send(owner, roomId, "root");
        const r1 = await reply(bob, roomId, root.id, "r1");
        const r2 = await reply(owner, roomId, root.id, "r2", true);
        const after = await send(owner, roomId, "after");
        // A reply to a reply is a reply in the root's thread.
        const r3 = await reply(bob, roomId, r1.id, "r3");
        expect(seqsOf([root, r1, r2, after, r3])).toEqual([1, 2, 3, 4, 5]);
        expect([r1.threadRootId, r2.threadRootId, r3.threadRootId, r2.alsoSentToRoom, r1.alsoSentToRoom]).toEqual([root.id, root.id, root.id, true, false]);
        const timeline = await list(bob, roomId);
        expect(timeline.messages.map((m) => m.body)).toEqual(["root", "r2", "after"]);
        expect(timeline.lastSeq).toBe(5n);
        const all = await list(bob, roomId, { threadRootId: root.id });
        expect(all.messages.map((m) => m.body)).toEqual(["r1", "r2", "r3"]);
        const older = await list(bob, roomId, { threadRootId: root.id, limit: 2 });
        expect([older.messages.map((m) => m.body), older.hasOlder]).toEqual([["r2", "r3"], true]);
        const first = await list(bob, roomId, { threadRootId: root.id, cursor: { case: "beforeSeq", value: r2.seq }, limit: 2 });
        expect([first.messages.map((m) => m.body), first.hasOlder]).toEqual([["r1"], false]);
        const newer = await list(bob, roomId, { threadRootId: root.id, cursor: { case: "afterSeq", value: r1.seq } });
        expect(newer.messages.map((m) => m.body)).toEqual(["r2", "r3"]);
        // A reply is not a thread root, nor is another room's message.
        const other = await world.createRoom(owner, "private");
        expect((await failure(list(owner, other, { threadRootId: root.id })))?.code).toBe(Code.NotFound);
        expect((await failure(list(owner, roomId, { threadRootId: r1.id })))?.code).toBe(Code.NotFound);
        expect((await failure(reply(owner, other, root.id, "x")))?.code).toBe(Code.InvalidArgument);
        expect((await failure(world.messages.sendMessage({ roomId, body: "x", alsoSendToRoom: true }, asUser(owner))))?.code).toBe(Code.InvalidArgument);
      });

      it("keeps the root's summary (count, last reply time, repliers latest first) and moves the root on the lane after each reply and reply delete", async () => {
        const { owner, members, roomId } = await roomWithMembers(2);
        const [bob, cai] = members as [string, string];
        const root = await send(owner, roomId, "root");
        expect(root.thread).toBeUndefined();
        const r1 = await reply(bob, roomId, root.id, "r1");
        const r2 = await reply(cai, roomId, root.id, "r2");
        const r3 = await reply(bob, roomId, root.id, "r3");
        const current = (await thread(owner, root.id)).root!;
        expect(current.thread).toMatchObject({ replyCount: 3, participantIds: [bob, cai], lastReplySeq: r3.seq });
        expect(current.thread!.lastReplyTime).toEqual(r3.createTime);
        // Each reply took a position, then its root the next one.
        expect([r1.change, r2.change, r3.change, current.change]).toEqual([2n, 4n, 6n, 7n]);
        await world.messages.deleteMessage({ messageId: r3.id }, asUser(bob));
        const lane = await world.messages.listChanges({ roomId, after: current.change }, asUser(cai));
        expect(lane.messages.map((m) => [m.id, m.change, m.deleted])).toEqual([
          [r3.id, 8n, true],
          [root.id, 9n, false],
        ]);
        expect(lane.messages[1]!.thread).toMatchObject({ replyCount: 2, participantIds: [cai, bob], lastReplyTime: r2.createTime });
        // Editing a reply leaves the summary (and the root) alone.
        await world.messages.editMessage({ messageId: r2.id, body: "r2!" }, asUser(cai));
        const edits = await world.messages.listChanges({ roomId, after: 9n }, asUser(cai));
        expect(edits.messages.map((m) => m.id)).toEqual([r2.id]);
        // A deleted root takes no more replies.
        await world.messages.deleteMessage({ messageId: root.id }, asUser(owner));
        expect((await failure(reply(bob, roomId, root.id, "late")))?.code).toBe(Code.FailedPrecondition);
      });

      it("publishes a reply as MessageCreated, then its root as MessageEdited with the new summary", async () => {
        const { owner, members, roomId } = await roomWithMembers(1);
        const root = await send(owner, roomId, "root");
        const events: Event[] = [];
        const unsubscribe = await world.broker.subscribe(topics.room(roomId), (event) => events.push(event));
        try {
          const r1 = await reply(members[0]!, roomId, root.id, "r1");
          await eventually(() => expect(events.length).toBe(2));
          expect(events.map((e) => [e.payload.case, (e.payload.value as { message?: Message }).message?.id, e.change])).toEqual([
            ["messageCreated", r1.id, r1.change],
            ["messageEdited", root.id, r1.change + 1n],
          ]);
          expect((events[1]!.payload.value as { message?: Message }).message?.thread?.replyCount).toBe(1);
        } finally {
          await unsubscribe();
        }
      });

      it("makes repliers and the root's author follow, counts unread replies per follower, lists followed threads newest first, and marks read", async () => {
        const { owner, members, roomId } = await roomWithMembers(2);
        const [bob, cai] = members as [string, string];
        const quiet = await send(owner, roomId, "no replies");
        const rootA = await send(owner, roomId, "A");
        const rootB = await send(bob, roomId, "B");
        expect((await thread(owner, rootA.id)).following).toBe(false);
        await reply(bob, roomId, rootA.id, "a1");
        await reply(cai, roomId, rootA.id, "a2");
        await reply(cai, roomId, rootB.id, "b1");
        // The author follows from the first reply, with every reply unread; a replier has read up to their reply.
        expect(await thread(owner, rootA.id)).toMatchObject({ following: true, unreadCount: 2n });
        expect(await thread(bob, rootA.id)).toMatchObject({ following: true, unreadCount: 1n });
        expect(await thread(cai, rootA.id)).toMatchObject({ following: true, unreadCount: 0n });
        expect(await thread(owner, quiet.id)).toMatchObject({ following: false, unreadCount: 0n });
        const forBob = await threads(bob, [roomId]);
        expect(forBob.threads.map((t) => [t.root!.body, t.unreadCount])).toEqual([["B", 1n], ["A", 1n]]);
        expect((await statsOf(bob, roomId)).unreadThreadCount).toBe(2n);
        // Room unread counts leave out replies that stayed in their thread.
        expect((await statsOf(bob, roomId)).unreadCount).toBe(2n);
        const page1 = await threads(bob, [roomId], { limit: 1 });
        const page2 = await threads(bob, [roomId], { limit: 1, pageToken: page1.nextPageToken });
        expect([page1.threads[0]!.root!.body, page2.threads[0]!.root!.body, page2.nextPageToken]).toEqual(["B", "A", ""]);
        // Reading: capped at the newest reply, never backwards.
        const read = await world.messages.markThreadRead({ rootId: rootB.id, seq: 0n }, asUser(bob));
        expect(read.thread).toMatchObject({ unreadCount: 0n });
        expect((await world.messages.markThreadRead({ rootId: rootA.id, seq: 1_000n }, asUser(bob))).thread?.lastReadSeq).toBe(
          (await thread(bob, rootA.id)).root!.thread!.lastReplySeq,
        );
        expect((await world.messages.markThreadRead({ rootId: rootA.id, seq: 1n }, asUser(bob))).thread?.unreadCount).toBe(0n);
        expect((await statsOf(bob, roomId)).unreadThreadCount).toBe(0n);
        expect((await threads(bob, [roomId], { unreadOnly: true })).threads).toEqual([]);
        // A deleted unread reply no longer counts.
        const a3 = await reply(cai, roomId, rootA.id, "a3");
        expect((await threads(bob, [roomId], { unreadOnly: true })).threads.map((t) => t.root!.body)).toEqual(["A"]);
        await world.messages.deleteMessage({ messageId: a3.id }, asUser(cai));
        expect((await statsOf(bob, roomId)).unreadThreadCount).toBe(0n);
        // Only the rooms asked about.
        expect((await threads(bob, [])).threads).toEqual([]);
      });

      it("follows and unfollows any thread: an unfollow holds until the next reply of one's own, and a new follower reads from now on", async () => {
        const { owner, members, roomId } = await roomWithMembers(2);
        const [bob, cai] = members as [string, string];
        const root = await send(owner, roomId, "root");
        await reply(bob, roomId, root.id, "r1");
        const followed = await world.messages.followThread({ rootId: root.id }, asUser(cai));
        expect(followed.thread).toMatchObject({ following: true, unreadCount: 0n });
        expect((await world.messages.followThread({ rootId: root.id }, asUser(cai))).thread?.following).toBe(true);
        await reply(bob, roomId, root.id, "r2");
        expect(await thread(cai, root.id)).toMatchObject({ following: true, unreadCount: 1n });
        const unfollowed = await world.messages.unfollowThread({ rootId: root.id }, asUser(owner));
        expect(unfollowed.thread?.following).toBe(false);
        await reply(bob, roomId, root.id, "r3");
        expect((await thread(owner, root.id)).following).toBe(false);
        expect((await threads(owner, [roomId])).threads).toEqual([]);
        expect((await statsOf(owner, roomId)).unreadThreadCount).toBe(0n);
        await reply(owner, roomId, root.id, "back");
        expect(await thread(owner, root.id)).toMatchObject({ following: true, unreadCount: 0n });
      });

      it("answers a non-member of a private room exactly like a random id, for every thread call, and rejects bad input", async () => {
        const { owner, members, roomId } = await roomWithMembers(1);
        const outsider = await world.newUser();
        const root = await send(owner, roomId, "secret");
        const r1 = await reply(members[0]!, roomId, root.id, "secret reply");
        const calls = {
          get: (rootId: string) => thread(outsider, rootId),
          follow: (rootId: string) => world.messages.followThread({ rootId }, asUser(outsider)),
          unfollow: (rootId: string) => world.messages.unfollowThread({ rootId }, asUser(outsider)),
          read: (rootId: string) => world.messages.markThreadRead({ rootId, seq: 0n }, asUser(outsider)),
        };
        for (const [name, call] of Object.entries(calls)) {
          const hidden = await failure(call(root.id));
          const random = await failure(call(uuidv7()));
          expect([name, hidden?.code, hidden?.rawMessage]).toEqual([name, random?.code, random?.rawMessage]);
          expect(hidden?.code).toBe(Code.NotFound);
        }
        const listed = await failure(list(outsider, roomId, { threadRootId: root.id }));
        const listedRandom = await failure(list(outsider, uuidv7(), { threadRootId: uuidv7() }));
        expect([listed?.code, listed?.rawMessage]).toEqual([listedRandom?.code, listedRandom?.rawMessage]);
        expect((await failure(reply(outsider, roomId, root.id, "hi")))?.code).toBe(Code.NotFound);
        // A reply is not a thread.
        expect((await failure(thread(owner, r1.id)))?.code).toBe(Code.NotFound);
        expect((await failure(thread(owner, "nope")))?.code).toBe(Code.InvalidArgument);
        expect((await failure(threads(owner, [roomId], { pageToken: "garbage" })))?.code).toBe(Code.InvalidArgument);
        expect((await failure(threads(owner, ["nope"])))?.code).toBe(Code.InvalidArgument);
        expect((await failure(world.messages.markThreadRead({ rootId: root.id, seq: -1n }, asUser(owner))))?.code).toBe(Code.InvalidArgument);
      });
    });
  });
}
