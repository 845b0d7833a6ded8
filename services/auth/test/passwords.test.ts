import { describe, expect, it } from "vitest";
import { OWASP_MINIMUM, PasswordHasher } from "../src/passwords.js";

describe("password hashing", () => {
  const hasher = new PasswordHasher(OWASP_MINIMUM);

  it("uses argon2id with at least OWASP's parameters and a fresh salt per hash", async () => {
    const a = await hasher.hash("same password");
    const b = await hasher.hash("same password");
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(a).not.toBe(b);
  });

  it("verifies the right password only, and never succeeds without a stored hash", async () => {
    const stored = await hasher.hash("right password");
    expect(await hasher.verify(stored, "right password")).toBe(true);
    expect(await hasher.verify(stored, "wrong password")).toBe(false);
    expect(await hasher.verify(undefined, "parley-dummy-password-for-timing")).toBe(false);
    expect(await hasher.verify("not a hash", "anything")).toBe(false);
  });
});
