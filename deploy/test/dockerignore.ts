// .dockerignore semantics (Docker's patternmatcher): a pattern excludes a path when it
// matches the path or one of its parent directories; `!` re-includes; the last matching
// pattern wins; `**` spans directories, `*` and `?` stay within one path element.
import { readdirSync } from "node:fs";
import { join, posix } from "node:path";

interface Pattern {
  regex: RegExp;
  exclusion: boolean;
}

export function parseDockerignore(text: string): Pattern[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const exclusion = line.startsWith("!");
      let pattern = posix.normalize((exclusion ? line.slice(1) : line).trim()).replace(/^\/+/, "").replace(/\/+$/, "");
      if (pattern === ".") pattern = "";
      return { regex: toRegex(pattern), exclusion };
    });
}

function toRegex(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        if (pattern[i + 1] === "/") {
          i++;
          source += "(?:.*/)?";
        } else source += ".*";
      } else source += "[^/]*";
    } else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/** Whether `path` (relative to the context, with /) is left out of the build context. */
export function isIgnored(patterns: Pattern[], path: string): boolean {
  const parts = path.split("/");
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  let ignored = false;
  for (const { regex, exclusion } of patterns) {
    if (candidates.some((candidate) => regex.test(candidate))) ignored = !exclusion;
  }
  return ignored;
}

/** Every file of the build context rooted at `root`, as Docker would send it. */
export function contextFiles(root: string, patterns: Pattern[]): string[] {
  const files: string[] = [];
  const walk = (relative: string) => {
    for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.name === ".git" || entry.name === "node_modules") continue; // never wanted, and huge
      if (entry.isDirectory()) walk(path);
      else if (!isIgnored(patterns, path)) files.push(path);
    }
  };
  walk("");
  return files.sort();
}
