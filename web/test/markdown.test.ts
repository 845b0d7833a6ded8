// @vitest-environment happy-dom
// The message renderer: the markdown subset works, and nothing a message says
// can become markup, an event handler or a dangerous URL.
import { describe, expect, it } from "vitest";
import { parseMarkdown, plainText, renderMarkdown, safeHref } from "../src/lib/markdown";

const ALLOWED_TAGS = new Set(["P", "BR", "STRONG", "EM", "DEL", "CODE", "PRE", "UL", "OL", "LI", "A", "BLOCKQUOTE", "SPAN"]);
const ALLOWED_ATTRIBUTES: Record<string, Set<string>> = {
  A: new Set(["href", "rel", "target"]),
  OL: new Set(["start"]),
  // A :shortcode: shown as its emoji, and an @mention chip (issue 16).
  SPAN: new Set(["class", "role", "aria-label", "title", "data-mention"]),
};
const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);

function render(source: string): HTMLElement {
  const container = document.createElement("div");
  container.append(...renderMarkdown(source));
  return container;
}

/** Every element is on the allow-list, with allowed attributes only, and links are safe. */
function assertSafe(container: HTMLElement): void {
  for (const element of container.querySelectorAll("*")) {
    expect(ALLOWED_TAGS.has(element.tagName), `tag ${element.tagName}`).toBe(true);
    for (const attribute of Array.from(element.attributes)) {
      expect(ALLOWED_ATTRIBUTES[element.tagName]?.has(attribute.name), `${element.tagName}[${attribute.name}]`).toBe(true);
      expect(attribute.name.toLowerCase().startsWith("on")).toBe(false);
    }
    if (element.tagName === "A") {
      const href = element.getAttribute("href")!;
      expect(SAFE_PROTOCOLS.has(new URL(href).protocol), href).toBe(true);
      expect(element.getAttribute("rel")).toBe("noopener noreferrer nofollow");
      expect(element.getAttribute("target")).toBe("_blank");
    }
    if (element.tagName === "OL" && element.hasAttribute("start")) expect(element.getAttribute("start")).toMatch(/^\d+$/);
  }
}

describe("markdown subset", () => {
  it("renders bold, italic, strike and inline code", () => {
    const el = render("**bold** and *italic* and _also italic_ and ~~gone~~ and `x < y`");
    expect(el.querySelector("strong")?.textContent).toBe("bold");
    expect([...el.querySelectorAll("em")].map((e) => e.textContent)).toEqual(["italic", "also italic"]);
    expect(el.querySelector("del")?.textContent).toBe("gone");
    expect(el.querySelector("code")?.textContent).toBe("x < y");
  });

  it("nests emphasis inside bold and keeps code spans literal", () => {
    const el = render("**very *important* thing** `**not bold**`");
    expect(el.querySelector("strong em")?.textContent).toBe("important");
    expect(el.querySelector("code")?.textContent).toBe("**not bold**");
    expect(el.querySelectorAll("strong")).toHaveLength(1);
  });

  it("leaves snake_case words and lone asterisks alone", () => {
    const el = render("call my_function_name with 2 * 3 * 4");
    expect(el.querySelector("em")).toBeNull();
    expect(el.textContent).toBe("call my_function_name with 2 * 3 * 4");
  });

  it("renders fenced code blocks verbatim", () => {
    const el = render("look:\n```ts\nconst a = **b**;\n<b>x</b>\n```\nafter");
    const pre = el.querySelector("pre code");
    expect(pre?.textContent).toBe("const a = **b**;\n<b>x</b>");
    expect(el.querySelector("b")).toBeNull();
    expect(el.querySelectorAll("p")).toHaveLength(2);
  });

  it("renders bullet and numbered lists", () => {
    const el = render("Plan:\n- one\n- **two**\n* three\n\n3. c\n4. d");
    expect([...el.querySelectorAll("ul > li")].map((li) => li.textContent)).toEqual(["one", "two", "three"]);
    expect(el.querySelector("ul li strong")?.textContent).toBe("two");
    const ol = el.querySelector("ol")!;
    expect(ol.getAttribute("start")).toBe("3");
    expect([...ol.querySelectorAll("li")].map((li) => li.textContent)).toEqual(["c", "d"]);
  });

  it("keeps line breaks inside a paragraph and splits paragraphs on blank lines", () => {
    const el = render("line one\nline two\n\nsecond paragraph");
    expect(el.querySelectorAll("p")).toHaveLength(2);
    expect(el.querySelector("p br")).not.toBeNull();
  });

  it("renders links and bare URLs with safe attributes", () => {
    const el = render("see [the docs](https://example.com/docs?a=1&b=2) or https://parley.example/x. mail [me](mailto:a@example.com)");
    const links = [...el.querySelectorAll("a")];
    expect(links.map((a) => a.getAttribute("href"))).toEqual([
      "https://example.com/docs?a=1&b=2",
      "https://parley.example/x",
      "mailto:a@example.com",
    ]);
    expect(links[0]!.textContent).toBe("the docs");
    expect(el.textContent).toContain("https://parley.example/x.");
    assertSafe(el);
  });

  it("keeps balanced parentheses in URLs and drops a closing one that belongs to the sentence", () => {
    const el = render("(see https://en.wikipedia.org/wiki/Foo_(bar)) and [w](https://example.com/a_(b))");
    const hrefs = [...el.querySelectorAll("a")].map((a) => a.getAttribute("href"));
    expect(hrefs).toEqual(["https://en.wikipedia.org/wiki/Foo_(bar)", "https://example.com/a_(b)"]);
  });

  it("honours backslash escapes", () => {
    const el = render("\\*not italic\\* and \\[not](a link)");
    expect(el.querySelector("em")).toBeNull();
    expect(el.textContent).toBe("*not italic* and [not](a link)");
  });

  it("renders quotes", () => {
    const el = render("> quoted **text**\n> more\n\nreply");
    expect(el.querySelector("blockquote strong")?.textContent).toBe("text");
    expect(el.querySelectorAll("blockquote")).toHaveLength(1);
  });

  it("gives plain text for previews", () => {
    expect(plainText("**Hi** _there_, see [docs](https://x.example)\n- a\n- b")).toBe("Hi there, see docs a b");
  });
});

// Each of these must come out as text, with no element beyond the allow-list and no unsafe link.
const HOSTILE = [
  "<img src=x onerror=alert(1)>",
  "<script>alert(1)</script>",
  "<svg onload=alert(1)>",
  '<a href="javascript:alert(1)">click</a>',
  "<iframe src=\"javascript:alert(1)\"></iframe>",
  "[x](javascript:alert(1))",
  "[x](JaVaScRiPt:alert(1))",
  "[x](  javascript:alert(1) )",
  "[x](javascript&colon;alert(1))",
  "[x](&#106;avascript:alert(1))",
  "[x](&#x6A;avascript:alert(1))",
  "[x](java\tscript:alert(1))",
  "[x](java\nscript:alert(1))",
  "[x](\u200Bjavascript:alert(1))",
  "[x](javascript\u0000:alert(1))",
  "[x](%6Aavascript:alert(1))",
  "[x](vbscript:msgbox(1))",
  "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
  "[x](file:///etc/passwd)",
  "[x](//evil.example/x)",
  "[x](/relative/path)",
  "[x](https://ok.example\" onclick=\"alert(1))",
  '[x](https://ok.example"onmouseover="alert(1))',
  "[<img src=x onerror=alert(1)>](https://example.com)",
  "[**bold** <script>alert(1)</script>](https://example.com)",
  "![img](https://example.com/x.png)",
  "![img](javascript:alert(1))",
  "**<img src=x onerror=alert(1)>**",
  "`<script>alert(1)</script>`",
  "```\n<script>alert(1)</script>\n```",
  "```html onload=alert(1)\n<b>x</b>\n```",
  "javascript:alert(1)",
  "http://example.com/<script>alert(1)</script>",
  "https://example.com/\"><img src=x onerror=alert(1)>",
  "<https://example.com>",
  "- <img src=x onerror=alert(1)>\n- [x](javascript:alert(1))",
  "1. <script>alert(1)</script>",
  "> <img src=x onerror=alert(1)>",
  "&lt;script&gt;alert(1)&lt;/script&gt;",
  "<style>body{display:none}</style>",
  "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
  "[a](https://example.com)[b](javascript:alert(1))",
  "[[[[[[[[[[x](javascript:alert(1))]]]]]]]]]",
  "*".repeat(5000),
  "**a".repeat(2000),
  "[".repeat(3000) + "x" + "](https://e.example)".repeat(100),
  "`".repeat(4000),
  "_a".repeat(3000),
  "> ".repeat(2000) + "deep",
];

describe("markdown sanitising", () => {
  it.each(HOSTILE.map((input) => [input.length > 60 ? `${input.slice(0, 57)}…` : input, input]))("is safe: %s", (_label, input) => {
    const el = render(input);
    assertSafe(el);
    expect(el.querySelector("script, img, svg, iframe, style, math, table, b")).toBeNull();
  });

  it("shows hostile HTML exactly as typed", () => {
    for (const input of ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>", '<a href="javascript:alert(1)">click</a>']) {
      expect(render(input).textContent).toBe(input);
    }
  });

  it("shows an unsafe link as the text that was typed", () => {
    const el = render("[x](javascript:alert(1))");
    expect(el.querySelector("a")).toBeNull();
    expect(el.textContent).toBe("[x](javascript:alert(1))");
  });

  it("never treats typed entities as markup", () => {
    const el = render("&lt;b&gt; &#60;i&#62;");
    expect(el.textContent).toBe("&lt;b&gt; &#60;i&#62;");
    expect(el.querySelector("b, i")).toBeNull();
  });

  it("handles pathological input quickly", () => {
    const started = performance.now();
    for (const input of ["*a".repeat(2000), "[".repeat(4000), "`a".repeat(2000), "_".repeat(4000), "**_~~`".repeat(700)]) render(input);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("accepts only http, https and mailto URLs", () => {
    expect(safeHref("https://example.com")).toBe("https://example.com/");
    expect(safeHref("HTTP://EXAMPLE.com/A")).toBe("http://example.com/A");
    expect(safeHref("mailto:someone@example.com")).toBe("mailto:someone@example.com");
    for (const bad of ["javascript:alert(1)", " JAVASCRIPT:alert(1)", "data:text/html,x", "vbscript:x", "file:///x", "//x.example", "/x", "x", "", "http://", "ftp://example.com"]) {
      expect(safeHref(bad), bad).toBeNull();
    }
  });

  it("parses without touching the DOM (the tree has no HTML in it)", () => {
    const blocks = parseMarkdown("<b>x</b> **y**");
    expect(JSON.stringify(blocks)).toContain('"text":"<b>x</b> "');
  });
});

// --- emoji ---
describe(":shortcode: emoji", () => {
  it("shows known shortcodes as their emoji, as text, and leaves unknown ones, code and markup alone", () => {
    const container = render("We shipped :tada: :+1: and :not_a_code: `:tada:` **:rocket:** :<img src=x onerror=alert(1)>:");
    assertSafe(container);
    expect([...container.querySelectorAll("span.emoji")].map((s) => [s.textContent, s.getAttribute("title")])).toEqual([
      ["🎉", ":tada:"],
      ["👍", ":+1:"],
      ["🚀", ":rocket:"],
    ]);
    expect(container.querySelector("code")?.textContent).toBe(":tada:");
    expect(container.textContent).toContain(":not_a_code:");
    expect(container.querySelector("img")).toBeNull();
  });
});

