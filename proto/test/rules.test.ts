// The rule table and its zod schemas give one answer for a value, counted in code points.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { characters, check, FIELDS, maxInputLength, NUL_RULE, problemOf, remaining, type TextRule } from "../rules/index.js";
import { fields, textSchema } from "../rules/zod.js";

const EMOJI = "😀";

describe("the rule table", () => {
  it("counts code points, not UTF-16 units", () => {
    expect(characters("")).toBe(0);
    expect(characters(EMOJI.repeat(3))).toBe(3);
    expect(EMOJI.repeat(3)).toHaveLength(6);
    expect(characters("e\u0301")).toBe(2);
  });

  it("takes 80 emoji as a room name and refuses 81, after trimming", () => {
    expect(check(FIELDS.roomName, EMOJI.repeat(60))).toEqual({ ok: true, value: EMOJI.repeat(60) });
    expect(check(FIELDS.roomName, `  ${EMOJI.repeat(80)}  `)).toEqual({ ok: true, value: EMOJI.repeat(80) });
    expect(check(FIELDS.roomName, EMOJI.repeat(81))).toEqual({ ok: false, message: "at most 80 characters" });
    expect(problemOf(FIELDS.roomName, "   ")).toBe("must not be empty");
    expect(problemOf(FIELDS.roomName, "two\nlines")).toBe("must be one line without control characters");
    expect(problemOf(FIELDS.roomName, "nul\u0000")).toBe(NUL_RULE);
  });

  it("takes 4,000 characters of body (ASCII or emoji) and refuses 4,001 with one message", () => {
    for (const unit of ["x", EMOJI]) {
      expect(problemOf(FIELDS.body, unit.repeat(4000))).toBeUndefined();
      expect(problemOf(FIELDS.body, unit.repeat(4001))).toBe("must be 1-4000 characters after trimming");
    }
    expect(problemOf(FIELDS.body, ` \n${"y".repeat(4000)}\t`)).toBeUndefined();
    expect(problemOf(FIELDS.body, " \n ")).toBe("must be 1-4000 characters after trimming");
    expect(problemOf(FIELDS.body, "\u200B\u200D")).toBe("must contain a visible character");
  });

  it("takes an empty clientMsgId (the server picks one) and refuses 65 characters", () => {
    expect(problemOf(FIELDS.clientMsgId, "")).toBeUndefined();
    expect(problemOf(FIELDS.clientMsgId, "a".repeat(64))).toBeUndefined();
    expect(problemOf(FIELDS.clientMsgId, "a".repeat(65))).toBe(FIELDS.clientMsgId.long);
    expect(problemOf(FIELDS.clientMsgId, "has space")).toBe(FIELDS.clientMsgId.long);
  });

  it("checks the account fields", () => {
    expect(problemOf(FIELDS.username, "ab")).toBe(FIELDS.username.short);
    expect(problemOf(FIELDS.username, "a b c")).toBe(FIELDS.username.short);
    expect(problemOf(FIELDS.email, "not-an-email")).toBe("must be a valid email address");
    expect(problemOf(FIELDS.email, "a@example.com")).toBeUndefined();
    expect(problemOf(FIELDS.avatarUrl, "")).toBeUndefined();
    expect(problemOf(FIELDS.avatarUrl, "ftp://example.com/a.png")).toBe("must be an http(s) URL");
    expect(problemOf(FIELDS.avatarUrl, "https://example.com/a.png")).toBeUndefined();
    expect(problemOf(FIELDS.password, "")).toBe("must not be empty");
    expect(problemOf(FIELDS.password, "short")).toBe("at least 8 characters");
    expect(problemOf(FIELDS.password, " ".repeat(8))).toBe("must not be only spaces");
    expect(problemOf(FIELDS.password, EMOJI.repeat(256))).toBeUndefined();
    expect(problemOf(FIELDS.password, EMOJI.repeat(257))).toBe("at most 256 characters");
    expect(problemOf(FIELDS.signUpDisplayName, "   ")).toBeUndefined();
    expect(problemOf(FIELDS.displayName, "   ")).toBe("must not be empty");
    expect(problemOf(FIELDS.id, "not-a-uuid")).toBe("must be a UUID");
    expect(problemOf(FIELDS.optionalId, "")).toBeUndefined();
  });

  it("gives the web app's inputs a maxlength that never cuts a valid value, and counts what is left", () => {
    const name = EMOJI.repeat(FIELDS.roomName.max);
    expect(name.length).toBeLessThanOrEqual(maxInputLength(FIELDS.roomName));
    expect(remaining(FIELDS.body, `  ${EMOJI.repeat(3999)} `)).toBe(1);
  });
});

describe("the zod schemas derived from it", () => {
  it("give the table's answer and keep the trimmed value, for every field", () => {
    const samples = ["", "  ", "ok", " padded ", EMOJI.repeat(81), "x".repeat(4001), "a\u0000b", "two\nlines", "abc_def", "a@example.com", "https://example.com"];
    for (const [name, rule] of Object.entries(FIELDS) as [keyof typeof FIELDS, TextRule][]) {
      for (const sample of samples) {
        const parsed = fields[name].safeParse(sample);
        const expected = check(rule, sample);
        expect(parsed.success ? { ok: true, value: parsed.data } : { ok: false, message: parsed.error.issues[0]!.message }, `${name} ${JSON.stringify(sample.slice(0, 12))}`).toEqual(expected);
      }
    }
  });

  it("document lengths in code points in JSON Schema", () => {
    expect(z.toJSONSchema(textSchema(FIELDS.roomName), { io: "input" })).toMatchObject({ type: "string", minLength: 1, maxLength: 80 });
  });
});
