import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateUnsubscribeSecret, signUnsubscribeToken, verifyUnsubscribeToken } from "../../src/channels/unsubscribe-token.js";

const USER = "0190f3a2-7b1c-7def-8123-456789abcdef";

describe("unsubscribe tokens", () => {
  const secret = generateUnsubscribeSecret();

  it("names the user it was made for, in base64url", () => {
    const token = signUnsubscribeToken(USER, secret);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyUnsubscribeToken(token, secret)).toBe(USER);
    expect(signUnsubscribeToken(USER, secret)).toBe(token); // deterministic: the same link in every email
    expect(encodeURIComponent(token)).toBe(token); // safe in a URL as is
  });

  it("refuses a token signed with another secret, or for another user", () => {
    const token = signUnsubscribeToken(USER, secret);
    expect(verifyUnsubscribeToken(token, generateUnsubscribeSecret())).toBeNull();
    const [, mac] = token.split(".");
    const otherUser = Buffer.from("another-user", "utf8").toString("base64url");
    expect(verifyUnsubscribeToken(`${otherUser}.${mac}`, secret)).toBeNull();
  });

  it("refuses a MAC without the purpose prefix (an HMAC of the bare id made for something else)", () => {
    const bare = createHmac("sha256", Buffer.from(secret, "base64url")).update(USER).digest("base64url");
    expect(verifyUnsubscribeToken(`${Buffer.from(USER).toString("base64url")}.${bare}`, secret)).toBeNull();
  });

  it.each([
    ["empty", ""],
    ["no dot", "abc"],
    ["two dots", "a.b.c"],
    ["not base64url", "a+b.c/d"],
    ["a short MAC", `${Buffer.from(USER).toString("base64url")}.AAAA`],
    ["an empty id", `.${"A".repeat(43)}`],
    ["padding", `${Buffer.from(USER).toString("base64url")}=.${"A".repeat(43)}`],
    ["very long", `${"A".repeat(500)}.${"A".repeat(43)}`],
  ])("refuses a malformed token (%s)", (_what, token) => {
    expect(verifyUnsubscribeToken(token, secret)).toBeNull();
  });

  it("refuses a flipped bit anywhere", () => {
    const token = signUnsubscribeToken(USER, secret);
    for (let i = 0; i < token.length; i++) {
      if (token[i] === ".") continue;
      const flipped = token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);
      expect(verifyUnsubscribeToken(flipped, secret)).toBeNull();
    }
  });

  it("verifies against several secrets (rotation)", () => {
    const old = generateUnsubscribeSecret();
    const token = signUnsubscribeToken(USER, old);
    expect(verifyUnsubscribeToken(token, [secret, old])).toBe(USER);
    expect(verifyUnsubscribeToken(token, [secret])).toBeNull();
  });

  it("needs a secret of at least 32 bytes and a user id", () => {
    expect(() => signUnsubscribeToken(USER, "c2hvcnQ")).toThrow(/at least 32 bytes/);
    expect(() => signUnsubscribeToken("", secret)).toThrow(/user id/);
    expect(() => verifyUnsubscribeToken(signUnsubscribeToken(USER, secret), "c2hvcnQ")).toThrow(/at least 32 bytes/);
    expect(verifyUnsubscribeToken(signUnsubscribeToken(USER, new Uint8Array(32).fill(7)), new Uint8Array(32).fill(7))).toBe(USER);
  });
});
