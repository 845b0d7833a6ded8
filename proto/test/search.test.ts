// The search query syntax (proto/rules/search.ts): what each piece means, what is refused (naming
// the part), and properties over arbitrary input.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SearchSyntaxError, formatSearchQuery, isDay, nextDay, parseSearchQuery, previousDay } from "../rules/search.js";

const empty = { words: [], phrases: [], excludedWords: [], excludedPhrases: [], from: [], in: [], has: [] };

function refusal(query: string): [string, string] | undefined {
  try {
    parseSearchQuery(query);
    return undefined;
  } catch (error) {
    if (!(error instanceof SearchSyntaxError)) throw error;
    return [error.part, error.reason];
  }
}

describe("parseSearchQuery", () => {
  it("reads words, phrases, exclusions and every operator", () => {
    expect(parseSearchQuery(`deploy Kube "Quick  brown" -fox -"lazy dog" from:@Ada from:bob in:#general in:"#my room" in:#"other room" has:link`)).toEqual({
      ...empty,
      words: ["deploy", "Kube"],
      phrases: ["Quick brown"],
      excludedWords: ["fox"],
      excludedPhrases: ["lazy dog"],
      from: ["ada", "bob"],
      in: ["general", "my room", "other room"],
      has: ["link"],
    });
    expect(parseSearchQuery("上海 東京 서울")).toEqual({ ...empty, words: ["上海", "東京", "서울"] });
    // Not an operator: a plain word, URLs included.
    expect(parseSearchQuery("https://example.com ratio:2 FROM:ada").words).toEqual(["https://example.com", "ratio:2"]);
    expect(parseSearchQuery("deploy DEPLOY deploy").words).toEqual(["deploy"]);
  });

  it("turns dates into a range of days: after: and before: leave their day out, on: is its day; several narrow it", () => {
    expect(parseSearchQuery("after:2026-02-28 before:2026-03-10")).toMatchObject({ since: "2026-03-01", until: "2026-03-10" });
    expect(parseSearchQuery("x on:2024-02-29")).toMatchObject({ since: "2024-02-29", until: "2024-03-01" });
    expect(parseSearchQuery("x on:2026-12-31 after:2026-01-01")).toMatchObject({ since: "2026-12-31", until: "2027-01-01" });
    expect(parseSearchQuery("x before:2026-05-01 before:2026-04-01")).toMatchObject({ until: "2026-04-01" });
  });

  it("refuses bad syntax, naming the part", () => {
    expect(refusal('a "open')).toEqual(['"open', "the quote is not closed"]);
    expect(refusal('a ""')).toEqual(['""', "the phrase is empty"]);
    expect(refusal("a - b")).toEqual(["-", "nothing to exclude after -"]);
    expect(refusal("a -from:ada")).toEqual(["-from:ada", "from: cannot be excluded"]);
    expect(refusal("a from:")).toEqual(["from:", "from: needs a username (from:@name)"]);
    expect(refusal("a from:@a+b")).toEqual(["from:@a+b", "from: needs a username of letters, digits, '_', '.' or '-'"]);
    expect(refusal("a in:")).toEqual(["in:", 'in: needs a room name (in:#name, or in:"#my room")']);
    expect(refusal('a in:"#x')).toEqual(['in:"#x', "the quote is not closed"]);
    expect(refusal("a on:2026-02-30")).toEqual(["on:2026-02-30", "on: needs a date as YYYY-MM-DD"]);
    expect(refusal("a before:yesterday")).toEqual(["before:yesterday", "before: needs a date as YYYY-MM-DD"]);
    expect(refusal("a has:video")).toEqual(["has:video", "has: takes link, file or image (has:link, has:file, has:image)"]);
    expect(refusal("a after:2026-03-01 before:2026-03-02")).toEqual(["before:2026-03-02", "the dates leave no day to search"]);
    expect(refusal("-a -\"b c\"")).toEqual(['-a -"b c"', "needs a word, a phrase or a filter (exclusions alone are not a search)"]);
  });

  it("knows the calendar", () => {
    expect([isDay("2024-02-29"), isDay("2023-02-29"), isDay("1900-02-29"), isDay("2000-02-29"), isDay("2026-04-31"), isDay("0000-01-01")]).toEqual([
      true,
      false,
      false,
      true,
      false,
      false,
    ]);
    expect([nextDay("2026-12-31"), nextDay("2024-02-28"), previousDay("2026-03-01"), previousDay("2027-01-01")]).toEqual([
      "2027-01-01",
      "2024-02-29",
      "2026-02-28",
      "2026-12-31",
    ]);
  });

  it("never fails on any input but with a SearchSyntaxError, and what it reads formats back to the same query", () => {
    const pieces = fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.constantFrom('"', "-", "from:", "in:", "in:#", "on:", "before:", "after:", "has:", "has:link", "@", "#", ":", " ", "上海", "ü"),
      fc.date({ min: new Date("1000-01-01"), max: new Date("9000-01-01"), noInvalidDate: true }).map((d) => `on:${d.toISOString().slice(0, 10)}`),
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 12 }), fc.constantFrom(" ", "", "  "), (parts, separator) => {
        const text = parts.join(separator);
        let parsed;
        try {
          parsed = parseSearchQuery(text);
        } catch (error) {
          expect(error).toBeInstanceOf(SearchSyntaxError);
          expect(text.normalize("NFC")).toContain((error as SearchSyntaxError).part);
          return;
        }
        expect(parseSearchQuery(formatSearchQuery(parsed))).toEqual(parsed);
      }),
      { numRuns: 2000 },
    );
  });
});
