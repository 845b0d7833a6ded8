// Mentions (issue 16) in both worlds: the service next to fake room and user services, and the
// all-in-one Parley with the real ones. Who a message mentions is decided by the server, counted
// in RoomStats.mention_count, listed by ListMentions, and guarded by the room's @room policy.
import { randomBytes } from "node:crypto";
import { asUser } from "@parley/kit";
import { Code } from "@connectrpc/connect";
import { MentionBroadcast } from "@parley/proto/message/v1/message_pb";
import { parseMentions } from "@parley/proto/rules/mentions";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure } from "./behaviours.js";
import { startFakeRoomWorld } from "./fake-room-world.js";
import { startParleyWorld } from "./parley-world.js";
import type { World } from "./world.js";

describe("parseMentions (proto/rules/mentions.ts)", () => {
  it("reads @usernames case-insensitively once each, @room / @here, and nothing in code, emails or escapes", () => {
    expect(parseMentions("hi @Ada and @ada, @bob.j. and (@carol)!")).toEqual({ usernames: ["ada", "bob.j", "carol"] });
    expect(parseMentions("mail ada@example.com or a@bob, \\@dan, `@erin` and @fo")).toEqual({ usernames: [] });
    expect(parseMentions("```\n@frank\n```\n@HERE then @room")).toEqual({ usernames: [], broadcast: "here" });
    expect(parseMentions("``code with ` @gina``  @hal")).toEqual({ usernames: ["hal"] });
  });
});

describeMentions("service alone, fake room and user services", startFakeRoomWorld);
describeMentions("all-in-one with the real room and user services", startParleyWorld);

function describeMentions(label: string, start: () => Promise<World>) {
  describe(`mentions (${label})`, () => {
    let world: World;
    beforeAll(async () => {
      world = await start();
    });
    afterAll(() => world?.stop());

    const name = (who: string) => `${who}_${randomBytes(4).toString("hex")}`;
    const send = async (userId: string, roomId: string, body: string) =>
      (await world.messages.sendMessage({ roomId, body }, asUser(userId))).message!;
    const edit = async (userId: string, messageId: string, body: string) =>
      (await world.messages.editMessage({ messageId, body }, asUser(userId))).message!;
    const mentionCount = async (userId: string, roomId: string, lastReadSeq = 0n) =>
      (await world.messages.getRoomStats({ rooms: [{ roomId, lastReadSeq }] }, asUser(userId))).stats[0]!.mentionCount;
    const mentionsOf = (userId: string, roomIds: string[], request: { limit?: number; pageToken?: string } = {}) =>
      world.messages.listMentions({ roomIds, ...request }, asUser(userId));

    async function people() {
      const names = { ada: name("ada"), bob: name("bob"), cy: name("cy"), out: name("out") };
      const ada = await world.newUser(names.ada);
      const bob = await world.newUser(names.bob);
      const cy = await world.newUser(names.cy);
      const outsider = await world.newUser(names.out);
      const roomId = await world.createRoom(ada, "private", [bob, cy]);
      return { names, ada, bob, cy, outsider, roomId };
    }

    it("stores the members a message names (any case, once), not outsiders, unknown names or code, and @room / @here", async () => {
      const { names, ada, bob, cy, roomId } = await people();
      const message = await send(
        ada,
        roomId,
        `@${names.bob.toUpperCase()} and @${names.cy}, again @${names.bob}; not \`@${names.ada}\`, @${names.out} or @nobody_${randomBytes(3).toString("hex")}`,
      );
      expect(message.mentionUserIds).toEqual([bob, cy]);
      expect(message.mentionBroadcast).toBe(MentionBroadcast.UNSPECIFIED);
      expect((await send(bob, roomId, "heads up @here")).mentionBroadcast).toBe(MentionBroadcast.HERE);
      expect((await send(bob, roomId, "@Room: lunch")).mentionBroadcast).toBe(MentionBroadcast.ROOM);
      // What a page and the stream give is what was stored.
      const page = await world.messages.listMessages({ roomId }, asUser(cy));
      expect(page.messages.map((m) => [m.mentionUserIds, m.mentionBroadcast])).toEqual([
        [[bob, cy], MentionBroadcast.UNSPECIFIED],
        [[], MentionBroadcast.HERE],
        [[], MentionBroadcast.ROOM],
      ]);
    });

    it("counts unread mentions of the caller and @room / @here, not their own, deleted or read ones; an edit adds or removes one", async () => {
      const { names, ada, bob, cy, roomId } = await people();
      const named = await send(ada, roomId, `hi @${names.bob}`);
      await send(ada, roomId, `hi @${names.cy}`);
      const everyone = await send(cy, roomId, "@room standup");
      await send(bob, roomId, `I am @${names.bob}, and @here`);
      const plain = await send(ada, roomId, "no mention");
      expect(await mentionCount(bob, roomId)).toBe(2n);
      expect(await mentionCount(cy, roomId)).toBe(2n);
      expect(await mentionCount(ada, roomId)).toBe(2n);
      // Read up to the @room: only what comes after it counts.
      expect(await mentionCount(bob, roomId, everyone.seq)).toBe(0n);
      await edit(ada, plain.id, `now @${names.bob.toUpperCase()}`);
      expect(await mentionCount(bob, roomId)).toBe(3n);
      await edit(ada, named.id, "never mind");
      expect(await mentionCount(bob, roomId)).toBe(2n);
      expect((await edit(ada, plain.id, "no one")).mentionUserIds).toEqual([]);
      await world.messages.deleteMessage({ messageId: everyone.id }, asUser(cy));
      expect(await mentionCount(bob, roomId)).toBe(0n);
    });

    it("refuses @room / @here from a plain member when the room keeps them to admins (PERMISSION_DENIED), and lets admins", async () => {
      const { ada, bob, cy, roomId } = await people();
      await world.makeAdmin(roomId, ada, cy);
      const earlier = await send(bob, roomId, "@here before the rule");
      await world.setMembersCanMentionEveryone(roomId, ada, false);
      const refused = await failure(send(bob, roomId, "@room look"));
      expect([refused?.code, refused?.rawMessage]).toEqual([Code.PermissionDenied, "only the room's admins can use @room and @here in this room"]);
      expect((await failure(send(bob, roomId, "hey @HERE")))?.code).toBe(Code.PermissionDenied);
      const plain = await send(bob, roomId, "no broadcast");
      expect((await failure(edit(bob, plain.id, "now @room")))?.code).toBe(Code.PermissionDenied);
      // What was allowed when sent may be corrected.
      expect((await edit(bob, earlier.id, "@here before the rule (typo fixed)")).mentionBroadcast).toBe(MentionBroadcast.HERE);
      expect((await send(cy, roomId, "@room from an admin")).mentionBroadcast).toBe(MentionBroadcast.ROOM);
      expect((await send(ada, roomId, "@here from the owner")).mentionBroadcast).toBe(MentionBroadcast.HERE);
      // Not-code is not a broadcast.
      expect((await send(bob, roomId, "type `@room` to call everyone")).mentionBroadcast).toBe(MentionBroadcast.UNSPECIFIED);
      await world.setMembersCanMentionEveryone(roomId, ada, true);
      expect((await send(bob, roomId, "@room allowed again")).mentionBroadcast).toBe(MentionBroadcast.ROOM);
    });

    it("lists the caller's mentions across the rooms given, newest first, paged; nothing of rooms not given", async () => {
      const { names, ada, bob, cy, roomId } = await people();
      const other = await world.createRoom(cy, "public", [bob]);
      const secret = await world.createRoom(ada, "private", [bob]);
      const first = await send(ada, roomId, `one @${names.bob}`);
      await send(bob, roomId, `own @${names.bob}`);
      const second = await send(cy, other, "two @room");
      await send(ada, roomId, `three for @${names.cy}`);
      const deleted = await send(cy, other, `gone @${names.bob}`);
      await world.messages.deleteMessage({ messageId: deleted.id }, asUser(cy));
      const third = await send(ada, secret, `four @${names.bob}`);
      const page1 = await mentionsOf(bob, [roomId, other, secret], { limit: 2 });
      expect(page1.messages.map((m) => m.id)).toEqual([third.id, second.id]);
      expect(page1.messages[0]!.mentionUserIds).toEqual([bob]);
      const page2 = await mentionsOf(bob, [roomId, other, secret], { limit: 2, pageToken: page1.nextPageToken });
      expect(page2.messages.map((m) => m.id)).toEqual([first.id]);
      expect(page2.nextPageToken).toBe("");
      // The edge passes only the rooms the caller is in now: a room left out gives nothing.
      expect((await mentionsOf(bob, [roomId, other])).messages.map((m) => m.id)).toEqual([second.id, first.id]);
      expect((await mentionsOf(bob, [])).messages).toEqual([]);
      expect((await failure(mentionsOf(bob, [roomId], { pageToken: "garbage" })))?.code).toBe(Code.InvalidArgument);
      expect((await failure(mentionsOf(bob, ["nope"])))?.code).toBe(Code.InvalidArgument);
      expect((await failure(mentionsOf(bob, [roomId], { limit: 1000 })))?.code).toBe(Code.InvalidArgument);
    });

    it("never stores a mention of someone outside a private room, so they cannot learn of it", async () => {
      const { names, ada, outsider, roomId } = await people();
      const message = await send(ada, roomId, `@${names.out} can you see this?`);
      expect(message.mentionUserIds).toEqual([]);
      expect((await mentionsOf(outsider, [roomId])).messages).toEqual([]);
      expect(await mentionCount(outsider, roomId)).toBe(0n);
      const random = await failure(world.messages.listMessages({ roomId: uuidv7() }, asUser(outsider)));
      const secret = await failure(world.messages.listMessages({ roomId }, asUser(outsider)));
      expect([secret?.code, secret?.rawMessage]).toEqual([random?.code, random?.rawMessage]);
    });
  });
}
