// @mention chips in rendered messages (issue 16): only the mentions the server stored, never in
// code, mine (and @room / @here) marked more, and always text (no markup from the message).
// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../src/lib/markdown";

function render(text: string, names: string[], broadcast = false, me = "ada") {
  const container = document.createElement("div");
  container.append(...renderMarkdown(text, document, { names: new Set(names), broadcast, me }));
  return container;
}

describe("mention chips", () => {
  it("marks the stored mentions, mine more, and leaves unknown names, code and emails as text", () => {
    const html = render("hi @Ada, @bob and @carol; `@bob` ada@bob.org", ["ada", "bob"]);
    const chips = [...html.querySelectorAll("span.mention")].map((c) => [c.textContent, c.className]);
    expect(chips).toEqual([
      ["@Ada", "mention mention-me"],
      ["@bob", "mention"],
    ]);
    expect(html.querySelector("code")?.textContent).toBe("@bob");
    expect(html.textContent).toBe("hi @Ada, @bob and @carol; @bob ada@bob.org");
  });

  it("shows @room / @here as mine when the message has a broadcast, and a hostile name as text", () => {
    const html = render("@here <img src=x onerror=alert(1)> @room", [], true);
    expect([...html.querySelectorAll("span.mention-me")].map((c) => c.textContent)).toEqual(["@here", "@room"]);
    expect(html.querySelector("img")).toBeNull();
    expect(render("@here", [], false).querySelector(".mention")).toBeNull();
  });
});
