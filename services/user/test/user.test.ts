import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { uuidv7 } from "uuidv7";
import { asUser } from "@parley/kit";
import { startTestParley, type TestParley } from "@parley/launch/testing";

let parley: TestParley<"user">;
beforeAll(async () => {
  parley = await startTestParley({ services: ["user"] });
});
afterAll(() => parley?.stop());

const tag = () => randomBytes(3).toString("hex");
async function newUser(username = `u_${tag()}`, displayName = "") {
  const id = uuidv7();
  const { user } = await parley.users.createUser({ id, username, email: `${username}@example.com`, displayName });
  return user!;
}
const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (e) => ConnectError.from(e));

describe("user profiles", () => {
  it("creates a profile whose display name defaults to the username", async () => {
    const user = await newUser();
    expect(user.displayName).toBe(user.username);
    expect(user.createTime).toBeDefined();
  });

  it("shows the email only to its owner", async () => {
    const alice = await newUser();
    const bob = await newUser();
    const asAlice = await parley.users.getUser({ id: alice.id }, asUser(alice.id));
    const asBob = await parley.users.getUser({ id: alice.id }, asUser(bob.id));
    const anonymous = await parley.users.getUser({ id: alice.id });
    expect(asAlice.user?.email).toBe(`${alice.username}@example.com`);
    expect(asBob.user?.email).toBeUndefined();
    expect(anonymous.user?.email).toBeUndefined();
    const batch = await parley.users.batchGetUsers({ ids: [alice.id] }, asUser(bob.id));
    expect(batch.users[0]?.email).toBeUndefined();
  });

  it("refuses a username taken in any case, and a taken email, with ALREADY_EXISTS naming the field", async () => {
    const taken = await newUser(`Case_${tag()}`);
    const sameName = await failure(
      parley.users.createUser({ id: uuidv7(), username: taken.username.toUpperCase(), email: `other_${tag()}@example.com` }),
    );
    expect(sameName?.code).toBe(Code.AlreadyExists);
    expect(sameName?.metadata.get("parley-field")).toBe("username");
    const sameEmail = await failure(
      parley.users.createUser({ id: uuidv7(), username: `n_${tag()}`, email: `${taken.username.toUpperCase()}@EXAMPLE.com` }),
    );
    expect(sameEmail?.code).toBe(Code.AlreadyExists);
    expect(sameEmail?.metadata.get("parley-field")).toBe("email");
  });

  it("rejects malformed usernames and emails with INVALID_ARGUMENT naming the rule", async () => {
    for (const username of ["ab", "x".repeat(33), "has space", "émile", "semi;colon"]) {
      const error = await failure(parley.users.createUser({ id: uuidv7(), username, email: `${tag()}@example.com` }));
      expect(error?.code, username).toBe(Code.InvalidArgument);
      expect(error?.rawMessage).toMatch(/^username: 3-32 letters/);
    }
    const badEmail = await failure(parley.users.createUser({ id: uuidv7(), username: `e_${tag()}`, email: "not-an-email" }));
    expect(badEmail?.code).toBe(Code.InvalidArgument);
    expect(badEmail?.metadata.get("parley-field")).toBe("email");
  });

  it("returns batches in request order, skipping unknown ids", async () => {
    const [a, b, c] = [await newUser(), await newUser(), await newUser()];
    const { users } = await parley.users.batchGetUsers({ ids: [c.id, uuidv7(), a.id, b.id, a.id] });
    expect(users.map((u) => u.id)).toEqual([c.id, a.id, b.id]);
  });

  it("gives NOT_FOUND for an unknown user and INVALID_ARGUMENT for a malformed id", async () => {
    expect((await failure(parley.users.getUser({ id: uuidv7() })))?.code).toBe(Code.NotFound);
    expect((await failure(parley.users.getUser({ id: "1; drop table users" })))?.code).toBe(Code.InvalidArgument);
  });
});

describe("profile updates", () => {
  it("changes only the fields named in the mask", async () => {
    const user = await newUser();
    const { user: updated } = await parley.users.updateUser(
      { userId: user.id, user: { displayName: "  New Name ", statusText: "ignored" }, updateMask: { paths: ["display_name"] } },
      asUser(user.id),
    );
    expect(updated?.displayName).toBe("New Name");
    expect(updated?.statusText).toBe("");
    expect(updated?.updateTime!.seconds).toBeGreaterThanOrEqual(user.updateTime!.seconds);
  });

  it("cannot touch another user", async () => {
    const alice = await newUser();
    const mallory = await newUser();
    const error = await failure(
      parley.users.updateUser(
        { userId: alice.id, user: { displayName: "pwned" }, updateMask: { paths: ["display_name"] } },
        asUser(mallory.id),
      ),
    );
    expect(error?.code).toBe(Code.PermissionDenied);
    const { user } = await parley.users.getUser({ id: alice.id });
    expect(user?.displayName).toBe(alice.displayName);
  });

  it("needs a signed-in caller", async () => {
    const alice = await newUser();
    const error = await failure(parley.users.updateUser({ userId: alice.id, updateMask: { paths: ["display_name"] } }));
    expect(error?.code).toBe(Code.Unauthenticated);
  });

  it("refuses non-editable fields and bad values", async () => {
    const user = await newUser();
    for (const path of ["username", "email", "id", "create_time"]) {
      const error = await failure(
        parley.users.updateUser({ userId: user.id, user: { username: "hijack", email: "x@y.z" }, updateMask: { paths: [path] } }, asUser(user.id)),
      );
      expect(error?.code, path).toBe(Code.InvalidArgument);
      expect(error?.rawMessage).toContain(`${path} is not an editable field`);
    }
    const badUrl = await failure(
      parley.users.updateUser({ userId: user.id, user: { avatarUrl: "javascript:alert(1)" }, updateMask: { paths: ["avatar_url"] } }, asUser(user.id)),
    );
    expect(badUrl?.code).toBe(Code.InvalidArgument);
    expect(badUrl?.rawMessage).toMatch(/^avatarUrl: /);
    const { user: after } = await parley.users.getUser({ id: user.id }, asUser(user.id));
    expect(after?.username).toBe(user.username);
    expect(after?.email).toBe(`${user.username}@example.com`);
  });
});

describe("search", () => {
  it("finds by prefix before substring, on username and display name, case-insensitively", async () => {
    const t = tag();
    const prefix = await newUser(`zeta${t}_a`);
    const inName = await newUser(`zz_${tag()}`, `Zeta${t} Person`);
    const substring = await newUser(`x_zeta${t}`);
    const { users } = await parley.users.searchUsers({ query: `ZETA${t}`, pageSize: 10 });
    expect(users.map((u) => u.id)).toEqual([prefix.id, inName.id, substring.id]);
    expect(users.every((u) => u.email === undefined)).toBe(true);
  });

  it("pages through every match once, in order", async () => {
    const t = tag();
    const made = [];
    for (let i = 0; i < 7; i++) made.push(await newUser(`pg${t}_${i}`));
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await parley.users.searchUsers({ query: `pg${t}`, pageSize: 3, pageToken });
      seen.push(...page.users.map((u) => u.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(made.map((u) => u.id));
  });

  it("treats LIKE wildcards literally and rejects bad input", async () => {
    const { users } = await parley.users.searchUsers({ query: "%", pageSize: 5 });
    expect(users).toEqual([]);
    expect((await failure(parley.users.searchUsers({ query: "" })))?.code).toBe(Code.InvalidArgument);
    expect((await failure(parley.users.searchUsers({ query: "a", pageSize: 1000 })))?.code).toBe(Code.InvalidArgument);
    expect((await failure(parley.users.searchUsers({ query: "a", pageToken: "garbage" })))?.code).toBe(Code.InvalidArgument);
  });
});

describe("login resolution", () => {
  it("maps an email or a username, in any case, to the user id", async () => {
    const user = await newUser(`Res_${tag()}`);
    expect((await parley.users.resolveLogin({ login: user.username.toUpperCase() })).userId).toBe(user.id);
    expect((await parley.users.resolveLogin({ login: `${user.username}@Example.COM` })).userId).toBe(user.id);
    expect((await failure(parley.users.resolveLogin({ login: "nobody_here" })))?.code).toBe(Code.NotFound);
  });
});
