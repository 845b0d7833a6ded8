// RESULTS.md: one section per scenario between markers. Writing a scenario's
// section replaces only that section; the others, and text outside them, stay.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";

const HEADER = `# Benchmark results

Written by \`npm run bench\` (see README.md): each section is replaced when its
scenario runs again, so every section says its own command, machine and date.
Numbers from different sections were measured at different times on a shared
machine: compare numbers side by side only within one table.
`;

const start = (name: string) => `<!-- bench:${name}:start -->`;
const end = (name: string) => `<!-- bench:${name}:end -->`;

/** Puts `body` in the section of `name`, replacing the old one or appending a new one. */
export function writeResultsSection(file: string, name: string, body: string): void {
  const current = existsSync(file) ? readFileSync(file, "utf8") : HEADER;
  const section = `${start(name)}\n${body.trim()}\n${end(name)}`;
  const from = current.indexOf(start(name));
  const to = current.indexOf(end(name));
  const next =
    from !== -1 && to > from
      ? current.slice(0, from) + section + current.slice(to + end(name).length)
      : `${current.trimEnd()}\n\n${section}\n`;
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, next);
  renameSync(temporary, file);
}
