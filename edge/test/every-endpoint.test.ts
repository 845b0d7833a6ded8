// Every REST endpoint and tRPC procedure: refuses callers without a valid token
// (where one is needed) and input with unknown or mistyped fields, and the
// procedures not covered elsewhere work end to end.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restRoutes } from "../src/api/rest.js";
import { appRouter } from "../src/api/routers/_app.js";
import { startTestEdge, type TestEdge } from "./harness.js";

let edge: TestEdge;
let token: string;
beforeAll(async () => {
  edge = await startTestEdge();
  token = (await edge.signUp("all")).accessToken;
});
afterAll(() => edge?.stop());

const ID = "01900000-0000-7000-8000-000000000000";
const routes = restRoutes(appRouter);
const PUBLIC = new Set(["auth.register", "auth.login", "auth.refresh", "auth.logout"]);
const hasBody = (method: string) => method === "POST" || method === "PUT" || method === "PATCH";
const fill = (path: string) => `/api/v1${path.replace(/:[A-Za-z]+/g, ID)}`;

describe("every REST endpoint", () => {
  it.each(routes.filter((r) => !PUBLIC.has(r.procedurePath)).map((r) => [r.method, r.path] as const))(
    "%s %s answers 401 without a token and with a garbage one",
    async (method, path) => {
      for (const auth of [undefined, "not.a.token"]) {
        const res = await edge.api(method, fill(path), { token: auth, body: hasBody(method) ? {} : undefined });
        expect(res.status).toBe(401);
        expect(res.json.error.code).toBe("UNAUTHORIZED");
      }
    },
  );

  it.each(routes.map((r) => [r.method, r.path] as const))("%s %s answers 400 for an unknown field", async (method, path) => {
    const withBody = hasBody(method);
    const url = withBody ? fill(path) : `${fill(path)}?surprise=1`;
    // logout-all succeeds and ends every session of its caller: with the shared token, the calls after
    // it would answer 401 once the edge's session cache (1 s) asks again, so it gets an account of its own.
    const caller = path === "/auth/logout-all" ? (await edge.signUp("out")).accessToken : token;
    const res = await edge.api(method, url, { token: caller, body: withBody ? { surprise: 1 } : undefined });
    // Procedures without input ignore extra fields (logout-all, lists): they must still succeed.
    const takesInput = routes.find((r) => r.path === path && r.method === method)!.procedure._def.inputs.length > 0;
    if (takesInput) {
      expect(res.status).toBe(400);
      expect(res.json.error.code).toBe("BAD_REQUEST");
    } else {
      expect(res.status).toBeLessThan(300);
    }
  });

  it.each(routes.filter((r) => hasBody(r.method)).map((r) => [r.method, r.path] as const))(
    "%s %s answers 400 for malformed JSON",
    async (method, path) => {
      const res = await edge.api(method, fill(path), { token, raw: "{nope", headers: { "content-type": "application/json" } });
      expect(res.status).toBe(400);
    },
  );
});

// The file routes (files-http.ts) are streams, not procedures: the same refusals, checked here.
describe("every file route", () => {
  const FILE_ROUTES = [
    ["POST", `/api/v1/rooms/${ID}/files`],
    ["GET", `/api/v1/files/${ID}/content`],
    ["HEAD", `/api/v1/files/${ID}/content`],
    ["GET", `/api/v1/files/${ID}/thumbnail`],
    ["HEAD", `/api/v1/files/${ID}/thumbnail`],
  ] as const;

  it.each(FILE_ROUTES)("%s %s answers 401 without a token and with a garbage one, with the file sandbox", async (method, path) => {
    for (const auth of [undefined, "not.a.token"]) {
      const headers: Record<string, string> = { "x-file-size": "1", "content-type": "multipart/form-data; boundary=x" };
      if (auth) headers.authorization = `Bearer ${auth}`;
      const res = await fetch(`${edge.base}${path}`, { method, headers, body: method === "POST" ? "--x--\r\n" : undefined });
      expect(res.status).toBe(401);
      if (method !== "HEAD") expect(((await res.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
      expect(res.headers.get("content-security-policy")).toMatch(/sandbox/);
    }
  });

  it.each(FILE_ROUTES)("%s %s answers 400 for an id that is not a UUID", async (method, path) => {
    const res = await fetch(`${edge.base}${path.replace(ID, "nope")}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "x-file-size": "1", "content-type": "multipart/form-data; boundary=x" },
      body: method === "POST" ? "--x--\r\n" : undefined,
    });
    expect(res.status).toBe(400);
  });

  it("lists every file route in the OpenAPI document", async () => {
    const doc = (await edge.api("GET", "/api/v1/openapi.json")).json;
    expect(doc.paths["/api/v1/rooms/{roomId}/files"].post.requestBody.content["multipart/form-data"]).toBeDefined();
    expect(Object.keys(doc.paths["/api/v1/rooms/{roomId}/files"].post.responses)).toEqual(expect.arrayContaining(["201", "413"]));
    for (const variant of ["content", "thumbnail"]) {
      const get = doc.paths[`/api/v1/files/{fileId}/${variant}`].get;
      expect(Object.keys(get.responses)).toEqual(expect.arrayContaining(["200", "206", "304", "404", "416"]));
      expect(doc.paths[`/api/v1/files/{fileId}/${variant}`].head).toBeDefined();
    }
    expect(doc.paths["/api/v1/link-images/{imageId}"].get).toBeDefined();
  });
});

describe("procedures end to end", () => {
  it("leave, invite, set role, update a room, open a DM, mark read, get a user: over REST and tRPC", async () => {
    const owner = await edge.signUp("own");
    const bob = await edge.signUp("bob");
    const room = (await edge.api("POST", "/api/v1/rooms", { token: owner.accessToken, body: { name: "team", visibility: "private" } })).json;
    expect((await edge.api("POST", `/api/v1/rooms/${room.id}/members`, { token: owner.accessToken, body: { userId: bob.user.id } })).status).toBe(201);
    const promoted = await edge.api("PUT", `/api/v1/rooms/${room.id}/members/${bob.user.id}`, { token: owner.accessToken, body: { role: "admin" } });
    expect(promoted.json.role).toBe("admin");
    const renamed = await edge.api("PUT", `/api/v1/rooms/${room.id}`, { token: bob.accessToken, body: { name: "renamed", topic: "new topic" } });
    expect(renamed.json).toMatchObject({ name: "renamed", topic: "new topic" });
    const got = await edge.api("GET", `/api/v1/rooms/${room.id}`, { token: bob.accessToken });
    expect(got.json.membership.role).toBe("admin");
    expect((await edge.api("POST", `/api/v1/rooms/${room.id}/leave`, { token: bob.accessToken })).status).toBe(204);
    expect((await edge.api("GET", `/api/v1/rooms/${room.id}`, { token: bob.accessToken })).status).toBe(404);

    const api = edge.trpc(bob.accessToken);
    const dm = await api.rooms.openDirect.mutate({ userId: owner.user.id });
    expect(dm.visibility).toBe("direct");
    await edge.trpc(owner.accessToken).messages.send.mutate({ roomId: dm.id, body: "ping" });
    expect(await api.rooms.markRead.mutate({ id: dm.id, seq: 1 })).toEqual({ lastReadSeq: 1 });
    const profile = await api.users.get.query({ id: owner.user.id });
    expect(profile.username).toBe(owner.username);
    expect(profile.email).toBeUndefined();
    const browse = await api.rooms.browse.query({});
    expect(Array.isArray(browse.rooms)).toBe(true);
    const sessions = await api.auth.sessions.query();
    expect(sessions.sessions.length).toBeGreaterThan(0);
  });
});
