// Message search (issue 17) in both worlds: the service next to fake room and user services, and
// the all-in-one Parley with the real ones, on PGlite or PostgreSQL (PARLEY_TEST_DATABASE_URL).
import { randomBytes } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { asUser } from "@parley/kit";
import { sqlRecorder } from "@parley/kit/testing";
import { SearchOrder, type SearchMessagesResponse } from "@parley/proto/message/v1/message_pb";
import { uuidv7 } from "uuidv7";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { snippetOf } from "../src/search.js";
import { failure } from "./behaviours.js";
import { startFakeRoomWorld, type FakeRoomWorld } from "./fake-room-world.js";
import { startParleyWorld } from "./parley-world.js";
import type { World } from "./world.js";

interface SearchInit {
  limit?: number;
  pageToken?: string;
  order?: SearchOrder;
  timeZone?: string;
  roomIds?: string[];
}

/** The local date (YYYY-MM-DD) of an instant in a time zone. */
function localDay(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(at);
}
function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

describe("snippets", () => {
  it("window the text around the first match, highlight substrings and words starting with a stem, and are parts of the body", () => {
    const long = `${"lorem ipsum ".repeat(20)}we deployed it, then kept deploying ${"dolor sit ".repeat(20)}`;
    const s = snippetOf(long, ["deploy"], ["deploy"]);
    expect(s.startsInside).toBe(true);
    expect(s.endsInside).toBe(true);
    const text = s.parts.map((p) => p.text).join("");
    expect(long.includes(text)).toBe(true);
    expect(text.length).toBeLessThanOrEqual(160);
    expect(s.parts.filter((p) => p.highlighted).map((p) => p.text)).toEqual(["deployed", "deploying"]);
    expect(snippetOf("我住在上海市", ["上海"], [])).toEqual({
      parts: [
        { text: "我住在", highlighted: false },
        { text: "上海", highlighted: true },
        { text: "市", highlighted: false },
      ],
      startsInside: false,
      endsInside: false,
    });
    expect(snippetOf("<b>KUBE</b>rnetes", ["kube"], []).parts).toEqual([
      { text: "<b>", highlighted: false },
      { text: "KUBE", highlighted: true },
      { text: "</b>rnetes", highlighted: false },
    ]);
  });
});

describeSearch("service alone, fake room and user services", startFakeRoomWorld);
describeSearch("all-in-one with the real room and user services", startParleyWorld);

function describeSearch(label: string, start: () => Promise<World>) {
  describe(`search (${label})`, () => {
    let world: World;
    beforeAll(async () => {
      world = await start();
    });
    afterAll(() => world?.stop());

    const tag = () => randomBytes(4).toString("hex");
    const send = async (userId: string, roomId: string, body: string, extra: { threadRootId?: string } = {}) =>
      (await world.messages.sendMessage({ roomId, body, ...extra }, asUser(userId))).message!;
    const search = (userId: string, query: string, request: SearchInit = {}) =>
      world.messages.searchMessages({ query, ...request }, asUser(userId));
    const ids = (response: SearchMessagesResponse) => response.hits.map((h) => h.message!.id);
    const found = async (userId: string, query: string, request: SearchInit = {}) => ids(await search(userId, query, request)).sort();
    const sorted = (...values: string[]) => [...values].sort();

    async function people() {
      const names = { ada: `ada_${tag()}`, bob: `bob_${tag()}`, out: `out_${tag()}` };
      const ada = await world.newUser(names.ada);
      const bob = await world.newUser(names.bob);
      const outsider = await world.newUser(names.out);
      const roomId = await world.createRoom(ada, "private", [bob]);
      return { names, ada, bob, outsider, roomId };
    }

    it("finds stemmed words, words starting with the query, partial words and CJK (Chinese, Japanese, Korean)", async () => {
      const { ada, bob, roomId } = await people();
      const t = tag();
      const deployed = await send(ada, roomId, `we deployed the api ${t}`);
      const deploying = await send(bob, roomId, `Deploying tomorrow ${t}`);
      const kube = await send(ada, roomId, `kubernetes cluster is down ${t}`);
      const shanghai = await send(ada, roomId, `我住在上海市 ${t}`);
      const tokyo = await send(ada, roomId, `東京都に住んでいます ${t}`);
      const seoul = await send(ada, roomId, `서울에 살아요 ${t}`);
      await send(ada, roomId, `nothing to see ${t}`);
      expect(await found(bob, `deploy ${t}`)).toEqual(sorted(deployed.id, deploying.id));
      expect(await found(bob, `deployment ${t}`)).toEqual(sorted(deployed.id, deploying.id));
      expect(await found(bob, `kube ${t}`)).toEqual([kube.id]);
      expect(await found(bob, `ERNET ${t}`)).toEqual([kube.id]);
      expect(await found(bob, `上海 ${t}`)).toEqual([shanghai.id]);
      expect(await found(bob, `東京 ${t}`)).toEqual([tokyo.id]);
      expect(await found(bob, `서울 ${t}`)).toEqual([seoul.id]);
      const hit = (await search(bob, `deploy ${t}`)).hits.find((h) => h.message!.id === deploying.id)!;
      expect(hit.snippet.filter((p) => p.highlighted).map((p) => p.text)).toEqual(["Deploying", t]);
      expect(hit.snippet.map((p) => p.text).join("")).toBe(deploying.body);
      // LIKE's metacharacters are text.
      expect(await found(bob, `% ${t}`)).toEqual([]);
      expect(await found(bob, `_ ${t}`)).toEqual([]);
    });

    it("ranks by relevance, then recency: more occurrences first, a newer message above an equally relevant older one", async () => {
      const { ada, bob, roomId } = await people();
      const t = tag();
      const many = await send(ada, roomId, `release notes: release, release again ${t}`);
      const older = await send(ada, roomId, `the release ${t}`);
      const newer = await send(ada, roomId, `the release ${t}`);
      const partial = await send(ada, roomId, `prerelease ${t}`);
      // Two sends in the same millisecond have the same time (then the id decides, as for any tie).
      const sameTime = timestampMs(newer.createTime!) === timestampMs(older.createTime!);
      const ranked = ids(await search(bob, `release ${t}`));
      expect([ranked[0], ranked[3]]).toEqual([many.id, partial.id]);
      if (!sameTime) expect(ranked.slice(1, 3)).toEqual([newer.id, older.id]);
      expect(ranked.slice(1, 3).sort()).toEqual(sorted(newer.id, older.id));
      const newest = (await search(bob, `release ${t}`, { order: SearchOrder.NEWEST })).hits.map((h) => h.message!);
      const key = (m: (typeof newest)[number]) => [timestampMs(m.createTime!), m.id] as const;
      const byNewest = [...newest].sort((a, b) => key(b)[0] - key(a)[0] || (key(b)[1] < key(a)[1] ? -1 : 1));
      expect(newest.map((m) => m.id)).toEqual(byNewest.map((m) => m.id));
      expect(newest.map((m) => m.id).sort()).toEqual(sorted(many.id, older.id, newer.id, partial.id));
      // Punctuation makes a word a substring only: c++ is not any word starting with c.
      const cpp = await send(ada, roomId, `I write C++ daily ${t}`);
      await send(ada, roomId, `I write cobol daily ${t}`);
      expect(await found(bob, `c++ ${t}`)).toEqual([cpp.id]);
    });

    it("matches phrases as substrings, and leaves out excluded words and phrases", async () => {
      const { ada, bob, roomId } = await people();
      const t = tag();
      const quick = await send(ada, roomId, `The quick brown fox ${t}`);
      const other = await send(ada, roomId, `quick fox, brown dog ${t}`);
      expect(await found(bob, `"QUICK BROWN" ${t}`)).toEqual([quick.id]);
      expect(await found(bob, `"brown fox ${t}"`)).toEqual([quick.id]);
      expect(await found(bob, `fox ${t}`)).toEqual(sorted(quick.id, other.id));
      expect(await found(bob, `fox ${t} -"quick brown"`)).toEqual([other.id]);
      expect(await found(bob, `fox ${t} -dog`)).toEqual([quick.id]);
      expect(await found(bob, `fox ${t} -brown`)).toEqual([]);
    });

    it("filters by from:, in: (names with spaces), has:link, and before: / after: / on: days in the request's time zone", async () => {
      const { names, ada, bob, roomId } = await people();
      const t = tag();
      const teamName = `Team Room ${t}`;
      const team = await world.createRoom(ada, "public", [bob], teamName);
      const byAda = await send(ada, roomId, `status ${t}`);
      const byBob = await send(bob, roomId, `status ${t} see https://example.com/x`);
      const inTeam = await send(bob, team, `status ${t} at www.example.org`);
      expect(await found(bob, `status ${t} from:@${names.ada}`)).toEqual([byAda.id]);
      expect(await found(bob, `status ${t} from:${names.bob.toUpperCase()}`)).toEqual(sorted(byBob.id, inTeam.id));
      expect(await found(bob, `status ${t} from:@${names.ada} from:@${names.bob}`)).toEqual(sorted(byAda.id, byBob.id, inTeam.id));
      expect(await found(bob, `status ${t} from:@nobody_${t}`)).toEqual([]);
      expect(await found(bob, `status ${t} in:"#${teamName.toLowerCase()}"`)).toEqual([inTeam.id]);
      expect(await found(bob, `status ${t} in:"#${teamName}"`, { roomIds: [roomId] })).toEqual([]);
      expect(await found(bob, `status ${t}`, { roomIds: [team] })).toEqual([inTeam.id]);
      expect(await found(bob, `status ${t} has:link`)).toEqual(sorted(byBob.id, inTeam.id));
      expect(await found(bob, `has:link in:"#${teamName}"`)).toEqual([inTeam.id]);

      const sentAt = new Date();
      for (const timeZone of ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"]) {
        const day = localDay(sentAt, timeZone);
        const all = sorted(byAda.id, byBob.id, inTeam.id);
        expect(await found(bob, `status ${t} on:${day}`, { timeZone }), timeZone).toEqual(all);
        expect(await found(bob, `status ${t} after:${addDays(day, -1)}`, { timeZone }), timeZone).toEqual(all);
        expect(await found(bob, `status ${t} before:${addDays(day, 1)}`, { timeZone }), timeZone).toEqual(all);
        expect(await found(bob, `status ${t} after:${day}`, { timeZone }), timeZone).toEqual([]);
        expect(await found(bob, `status ${t} before:${day}`, { timeZone }), timeZone).toEqual([]);
      }
      // Kiritimati (UTC+14) and Pago Pago (UTC-11) are never on the same day.
      expect(await found(bob, `status ${t} on:${localDay(sentAt, "Pacific/Kiritimati")}`, { timeZone: "Pacific/Pago_Pago" })).toEqual([]);
    });

    it("re-indexes edits, never matches deleted messages, and finds thread replies", async () => {
      const { ada, bob, roomId } = await people();
      const t = tag();
      const message = await send(ada, roomId, `original wording ${t}`);
      const gone = await send(ada, roomId, `secret plan ${t}`);
      const root = await send(ada, roomId, `thread root ${t}`);
      const reply = await send(bob, roomId, `a reply about giraffes ${t}`, { threadRootId: root.id });
      expect(await found(bob, `original ${t}`)).toEqual([message.id]);
      await world.messages.editMessage({ messageId: message.id, body: `revised phrasing ${t}` }, asUser(ada));
      expect(await found(bob, `original ${t}`)).toEqual([]);
      expect(await found(bob, `revise ${t}`)).toEqual([message.id]);
      await world.messages.deleteMessage({ messageId: gone.id }, asUser(ada));
      expect(await found(bob, `secret ${t}`)).toEqual([]);
      expect(await found(bob, t)).toEqual(sorted(message.id, root.id, reply.id));
      expect(await found(bob, `giraffe ${t}`)).toEqual([reply.id]);
    });

    it("never shows a private room to a non-member (no hits, no count), and stops searching a room left or kicked from", async () => {
      const { ada, bob, outsider, roomId } = await people();
      const t = tag();
      const mine = await world.createRoom(outsider, "public", [bob]);
      const secret = await send(ada, roomId, `launch codes ${t}`);
      const visible = await send(outsider, mine, `launch party ${t}`);
      const asBob = await search(bob, `launch ${t}`);
      expect(ids(asBob).sort()).toEqual(sorted(secret.id, visible.id));
      expect(asBob.roomCounts.map((c) => [c.roomId, c.count]).sort()).toEqual([[roomId, 1], [mine, 1]].sort());
      const asOutsider = await search(outsider, `launch ${t}`);
      expect(ids(asOutsider)).toEqual([visible.id]);
      expect(asOutsider.roomCounts.map((c) => c.roomId)).toEqual([mine]);
      expect(ids(await search(outsider, `launch ${t}`, { roomIds: [roomId] }))).toEqual([]);
      // Kicked, then left: gone from the next search.
      await world.kick(roomId, ada, bob);
      expect(ids(await search(bob, `launch ${t}`))).toEqual([visible.id]);
      await world.leave(mine, bob);
      const after = await search(bob, `launch ${t}`);
      expect([ids(after), after.roomCounts]).toEqual([[], []]);
    });

    it("pages are disjoint and complete, in both orders, and stay so while messages are sent between pages", async () => {
      const { ada, bob, roomId } = await people();
      const t = tag();
      const sent: string[] = [];
      for (let i = 0; i < 7; i++) sent.push((await send(i % 2 ? ada : bob, roomId, `${i % 3 ? "alpha" : "alpha alpha beta"} ${t} n${i}`)).id);
      for (const order of [SearchOrder.RELEVANCE, SearchOrder.NEWEST]) {
        // Everything that matches when the first page is read.
        const expected = [...sent];
        const seen: string[] = [];
        let pageToken = "";
        let pages = 0;
        do {
          const page = await search(bob, `alpha ${t}`, { order, limit: 3, pageToken });
          seen.push(...ids(page));
          expect(page.roomCounts.map((c) => [c.roomId, c.count]), String(order)).toEqual([[roomId, expected.length]]);
          pageToken = page.nextPageToken;
          pages++;
          // Sent after the first page: never shifts the later ones (nor their counts).
          sent.push((await send(ada, roomId, `alpha ${t} late ${pages}`)).id);
        } while (pageToken);
        expect(pages, String(order)).toBe(Math.ceil(expected.length / 3));
        expect(new Set(seen).size, String(order)).toBe(seen.length);
        expect([...seen].sort(), String(order)).toEqual([...expected].sort());
      }
      const newest = await search(bob, `alpha ${t}`, { order: SearchOrder.NEWEST, limit: 2 });
      // The two sent last (in either order if they share a millisecond: then the id decides).
      expect(ids(newest).sort()).toEqual(sorted(sent.at(-1)!, sent.at(-2)!));
      // A token is for its own search.
      const token = (await search(bob, `alpha ${t}`, { limit: 1 })).nextPageToken;
      expect((await failure(search(bob, `beta ${t}`, { limit: 1, pageToken: token })))?.code).toBe(Code.InvalidArgument);
    });

    it("finds messages with files (has:file) and with images (has:image), never a deleted message's", async () => {
      const { ada, bob, roomId } = await people();
      const t = tag();
      const upload = async (name: string, bytes: Uint8Array) => {
        async function* parts() {
          yield { part: { case: "header" as const, value: { roomId, name, size: BigInt(bytes.length) } } };
          yield { part: { case: "chunk" as const, value: bytes } };
        }
        return (await world.files.uploadFile(parts(), asUser(ada))).file!;
      };
      const sharp = (await import("sharp")).default;
      const image = await sharp({ create: { width: 20, height: 20, channels: 3, background: "#08f" } }).png().toBuffer();
      const withImage = (await world.messages.sendMessage({ roomId, body: `pic ${t}`, fileIds: [(await upload("a.png", image)).id] }, asUser(ada))).message!;
      const withPdf = (await world.messages.sendMessage({ roomId, body: `doc ${t}`, fileIds: [(await upload("a.pdf", Buffer.from("%PDF-1.4\n%%EOF\n"))).id] }, asUser(ada))).message!;
      const gone = (await world.messages.sendMessage({ roomId, body: `old ${t}`, fileIds: [(await upload("b.png", image)).id] }, asUser(ada))).message!;
      const plain = await send(ada, roomId, `text ${t}`);
      await world.messages.deleteMessage({ messageId: gone.id }, asUser(ada));
      expect(await found(bob, `${t} has:file`)).toEqual(sorted(withImage.id, withPdf.id));
      expect(await found(bob, `${t} has:image`)).toEqual([withImage.id]);
      expect(await found(bob, `${t}`)).toEqual(sorted(withImage.id, withPdf.id, plain.id));
    });

    it("refuses bad queries and requests with INVALID_ARGUMENT naming the part", async () => {
      const { bob } = await people();
      const refused = async (query: string, request: SearchInit = {}) => {
        const error = await failure(search(bob, query, request));
        return [error?.code, error?.rawMessage];
      };
      expect(await refused('say "unclosed')).toEqual([Code.InvalidArgument, 'query: "\\"unclosed": the quote is not closed']);
      expect(await refused("x before:2026-13-01")).toEqual([Code.InvalidArgument, 'query: "before:2026-13-01": before: needs a date as YYYY-MM-DD']);
      expect(await refused("x has:video")).toEqual([Code.InvalidArgument, 'query: "has:video": has: takes link, file or image (has:link, has:file, has:image)']);
      expect(await refused("x from:")).toEqual([Code.InvalidArgument, 'query: "from:": from: needs a username (from:@name)']);
      expect(await refused("x in:#")).toEqual([Code.InvalidArgument, 'query: "in:#": in: needs a room name (in:#name, or in:"#my room")']);
      expect(await refused("-alone")).toEqual([Code.InvalidArgument, 'query: "-alone": needs a word, a phrase or a filter (exclusions alone are not a search)']);
      expect((await refused(""))[0]).toBe(Code.InvalidArgument);
      expect((await refused("x".repeat(501)))[1]).toBe("query: at most 500 characters");
      expect((await refused("x", { limit: 51 }))[1]).toBe("limit: must be 1-50 (0 for 20)");
      expect((await refused("x", { timeZone: "Mars/Olympus" }))[1]).toBe("time_zone: must be an IANA time zone name (such as Europe/Paris)");
      expect((await refused("x", { pageToken: "garbage" }))[1]).toBe("page_token: is not a token from a previous page of this search");
      expect((await refused("x", { roomIds: Array.from({ length: 101 }, () => uuidv7()) }))[1]).toBe("room_ids: at most 100 rooms");
      expect((await refused("x", { roomIds: ["nope"] }))[0]).toBe(Code.InvalidArgument);
      expect((await refused("x", { order: 9 as SearchOrder }))[0]).toBe(Code.InvalidArgument);
    });
  });
}

describe("search: a private room one is not in and a room that does not exist", () => {
  const sql = sqlRecorder();
  let world: FakeRoomWorld;
  beforeAll(async () => {
    world = await startFakeRoomWorld({ log: sql.log });
  });
  afterAll(() => world?.stop());

  it("give the same answer and the same SQL work (in:, room_ids, from:)", async () => {
    const owner = await world.newUser(`owner_${randomBytes(3).toString("hex")}`);
    const outsider = await world.newUser(`out_${randomBytes(3).toString("hex")}`);
    const t = randomBytes(4).toString("hex");
    const secretName = `secret ${t}`;
    const secret = await world.createRoom(owner, "private", [], secretName);
    const mine = await world.createRoom(outsider, "public", [], `mine ${t}`);
    await world.messages.sendMessage({ roomId: secret, body: `plans ${t}` }, asUser(owner));
    await world.messages.sendMessage({ roomId: mine, body: `plans ${t} too` }, asUser(outsider));
    const workOf = async (request: SearchInit & { query?: string }) => {
      sql.statements.length = 0;
      const answer = await world.messages.searchMessages({ query: `plans ${t}`, ...request }, asUser(outsider));
      const statements = [...sql.statements];
      return { answer: { hits: answer.hits.map((h) => h.message!.id), counts: answer.roomCounts.map((c) => [c.roomId, c.count]), capped: answer.countsCapped }, statements };
    };
    const pairs: [string, SearchInit & { query?: string }, SearchInit & { query?: string }][] = [
      ["in:", { query: `plans ${t} in:"#${secretName}"` }, { query: `plans ${t} in:"#nothing ${t}"` }],
      ["room_ids", { roomIds: [mine, secret] }, { roomIds: [mine, uuidv7()] }],
      ["room_ids alone", { roomIds: [secret] }, { roomIds: [uuidv7()] }],
    ];
    for (const [name, hiddenRequest, missingRequest] of pairs) {
      const hidden = await workOf(hiddenRequest);
      const missing = await workOf(missingRequest);
      expect(hidden.answer, name).toEqual(missing.answer);
      expect(missing.statements, name).toEqual(hidden.statements);
    }
    const both = await workOf({ roomIds: [mine, secret] });
    expect(both.answer.counts).toEqual([[mine, 1]]);
    expect(both.statements.length).toBeGreaterThan(0);
    // An unknown sender is no error: nobody by that name sent anything here.
    expect((await workOf({ query: `plans ${t} from:@nobody_${t}` })).answer).toEqual({ hits: [], counts: [], capped: false });
  });
});
