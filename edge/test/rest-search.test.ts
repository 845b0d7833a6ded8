// Search over REST and tRPC (issue 17): GET /api/v1/search across the rooms you are in now, pages by
// cursor in both orders, per-room counts, the room filter, a private room that never leaks (its
// messages, its counts, its name through in:), and 400s naming the query parameter.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ok, roomWithMembers, startTestEdge, type Account, type TestEdge } from "./harness.js";

let edge: TestEdge;
beforeAll(async () => {
  edge = await startTestEdge();
});
afterAll(() => edge?.stop());

const as = (who: Account) => ({ token: who.accessToken });
const search = (who: Account, params: Record<string, string>) => edge.api("GET", `/api/v1/search?${new URLSearchParams(params)}`, as(who));

describe("REST search", () => {
  it("finds messages of your rooms with snippets, pages both orders, counts per room, filters by room, and never shows a private room you are not in", async () => {
    const alice = await edge.signUp("sa");
    const bob = await edge.signUp("sb");
    const carol = await edge.signUp("sc");
    const shared = await roomWithMembers(edge, alice, [bob]);
    const other = await roomWithMembers(edge, alice, [carol]);
    // carol's private room: bob is in none of it.
    const secretName = `secret quokkas ${Date.now()}`;
    const secret = (await ok(edge.api("POST", "/api/v1/rooms", { ...as(carol), body: { name: secretName, visibility: "private" } }), 201)).id as string;
    const send = async (who: Account, roomId: string, body: string) => (await ok(edge.api("POST", "/api/v1/messages", { ...as(who), body: { roomId, body } }), 201)) as { id: string; seq: number };

    const first = await send(alice, shared, "the quokka plans for the launch are ready");
    await send(bob, shared, "nothing to see here");
    const inOther = await send(alice, other, "another quokka sighting near the <b>office</b>");
    await send(carol, secret, "the secret quokka is in the vault");
    const newest = await send(bob, shared, `a long message ${"filler ".repeat(40)}about a quokka ${"tail ".repeat(40)}`);

    // bob: only the shared room, never carol's.
    const forBob = await ok(search(bob, { q: "quokka", order: "newest" }));
    expect(forBob.hits.map((h: { message: { id: string } }) => h.message.id)).toEqual([newest.id, first.id]);
    expect(forBob.roomCounts).toEqual([{ roomId: shared, count: 2 }]);
    expect(forBob.countsCapped).toBe(false);
    expect(forBob.nextCursor).toBeNull();
    const long = forBob.hits[0];
    expect(long.snippetStartsInside).toBe(true);
    expect(long.snippetEndsInside).toBe(true);
    expect(long.snippet.filter((p: { highlighted: boolean }) => p.highlighted).map((p: { text: string }) => p.text)).toEqual(["quokka"]);
    expect(long.message).toMatchObject({ roomId: shared, seq: newest.seq, senderId: bob.user.id });
    // The secret room by name, by id, by its words: nothing, and no count.
    expect(await ok(search(bob, { q: `quokka in:"#${secretName}"` }))).toEqual({ hits: [], roomCounts: [], countsCapped: false, nextCursor: null });
    expect(await ok(search(bob, { q: "vault" }))).toEqual({ hits: [], roomCounts: [], countsCapped: false, nextCursor: null });
    expect(await ok(search(bob, { q: "quokka", roomId: secret }))).toEqual({ hits: [], roomCounts: [], countsCapped: false, nextCursor: null });

    // alice: both of her rooms, a page at a time, newest first.
    const page1 = await ok(search(alice, { q: "quokka", order: "newest", limit: "2" }));
    expect(page1.hits.map((h: { message: { id: string } }) => h.message.id)).toEqual([newest.id, inOther.id]);
    expect(page1.roomCounts).toEqual([
      { roomId: shared, count: 2 },
      { roomId: other, count: 1 },
    ]);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = await ok(search(alice, { q: "quokka", order: "newest", limit: "2", cursor: page1.nextCursor }));
    expect(page2.hits.map((h: { message: { id: string } }) => h.message.id)).toEqual([first.id]);
    expect(page2.nextCursor).toBeNull();
    // Markup in a body is text in the snippet's parts.
    const tagged = page1.hits[1].snippet.map((p: { text: string }) => p.text).join("");
    expect(tagged).toContain("<b>office</b>");
    // Relevance (the default), all pages: the same three messages.
    const seen: string[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const page: { hits: { message: { id: string } }[]; nextCursor: string | null } = await ok(
        search(alice, { q: "quokka", limit: "1", ...(cursor && { cursor }) }),
      );
      seen.push(...page.hits.map((h) => h.message.id));
      cursor = page.nextCursor;
    }
    expect(seen.sort()).toEqual([first.id, inOther.id, newest.id].sort());
    // One room, operators, the browser's time zone.
    const filtered = await ok(search(alice, { q: `quokka from:@${alice.username}`, roomId: other, tz: "Pacific/Auckland" }));
    expect(filtered.hits.map((h: { message: { id: string } }) => h.message.id)).toEqual([inOther.id]);
    expect((await ok(search(alice, { q: "quokka -sighting -launch" }))).hits.map((h: { message: { id: string } }) => h.message.id)).toEqual([newest.id]);

    // Over tRPC: the same procedure.
    const typed = await edge.trpc(bob.accessToken).messages.search.query({ q: '"quokka plans"', order: "relevance" });
    expect(typed.hits.map((h) => h.message.id)).toEqual([first.id]);
    expect(typed.hits[0]!.snippet.some((p) => p.highlighted && p.text.toLowerCase() === "quokka plans")).toBe(true);
    const typedSecret = await edge.trpc(bob.accessToken).messages.search.query({ q: "vault", roomId: secret });
    expect(typedSecret).toEqual({ hits: [], roomCounts: [], countsCapped: false, nextCursor: null });

    // Left the room: its messages are no longer searched.
    await ok(edge.api("POST", `/api/v1/rooms/${shared}/leave`, as(bob)), 204);
    expect((await ok(search(bob, { q: "quokka" }))).hits).toEqual([]);
  });

  it("answers 400 naming the query parameter, 401 without a token, and is in the OpenAPI document", async () => {
    const dave = await edge.signUp("sd");
    const bad = async (params: Record<string, string>, field: string) => {
      const res = await search(dave, params);
      expect(res.status, JSON.stringify(res.json)).toBe(400);
      expect(res.json.error).toMatchObject({ code: "BAD_REQUEST", field });
      expect(res.json.error.message.startsWith(`${field}: `)).toBe(true);
    };
    await bad({}, "q");
    await bad({ q: "" }, "q");
    await bad({ q: "   " }, "q");
    await bad({ q: "x".repeat(501) }, "q");
    await bad({ q: "has:video" }, "q");
    await bad({ q: "on:2026-02-30" }, "q");
    await bad({ q: "x", limit: "0" }, "limit");
    await bad({ q: "x", limit: "51" }, "limit");
    await bad({ q: "x", order: "oldest" }, "order");
    await bad({ q: "x", tz: "Mars/Olympus_Mons" }, "tz");
    await bad({ q: "x", roomId: "not-an-id" }, "roomId");
    await bad({ q: "x", cursor: "garbage" }, "cursor");
    expect((await ok(search(dave, { q: "x".repeat(500) }))).hits).toEqual([]);
    const twice = await edge.api("GET", "/api/v1/search?q=a&q=b", as(dave));
    expect(twice.status).toBe(400);
    expect((await edge.api("GET", "/api/v1/search?q=x")).status).toBe(401);
    await expect(edge.trpc(dave.accessToken).messages.search.query({ q: "" })).rejects.toMatchObject({ data: { code: "BAD_REQUEST" } });

    const doc = await ok(edge.api("GET", "/api/v1/openapi.json"));
    const op = doc.paths["/api/v1/search"].get;
    expect(op.operationId).toBe("messages.search");
    expect(op.parameters.map((p: { name: string }) => p.name).sort()).toEqual(["cursor", "limit", "order", "q", "roomId", "tz"]);
    expect(op.parameters.find((p: { name: string }) => p.name === "q")).toMatchObject({ required: true, schema: { maxLength: 500 } });
    expect(op.responses["200"].content["application/json"].schema.properties).toHaveProperty("roomCounts");
  });
});
