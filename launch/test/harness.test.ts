// The test harness starts what a test names and what that calls, nothing else.
import { afterAll, describe, expect, it } from "vitest";
import { startTestParley, type TestParley } from "../src/testing.js";

describe("startTestParley({ services })", () => {
  const started: TestParley<"user" | "auth">[] = [];
  afterAll(async () => {
    for (const parley of started) await parley.stop();
  });

  it("starts the user service alone, with its client only", async () => {
    const parley = await startTestParley({ services: ["user"] });
    started.push(parley as TestParley<"user" | "auth">);
    expect(Object.keys(parley.addresses)).toEqual(["user"]);
    expect(Object.keys(parley).filter((key) => ["auth", "users", "rooms", "messages"].includes(key))).toEqual(["users"]);
    const { user } = await parley.users.createUser({ id: "0190a000-0000-7000-8000-000000000001", username: "alone", email: "alone@example.com", displayName: "" });
    expect(user?.username).toBe("alone");
  });

  it("starts auth with the user service it calls, each after what it calls", async () => {
    const parley = await startTestParley({ services: ["auth"] });
    started.push(parley);
    expect(Object.keys(parley.addresses)).toEqual(["user", "auth"]);
    expect((await parley.auth.getJwks({})).keys.length).toBeGreaterThan(0);
  });
});
