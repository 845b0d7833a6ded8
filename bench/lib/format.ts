// Number formats and the Markdown table printed to the terminal and written to RESULTS.md.
import type { Column, Row } from "./scenario.js";
import type { Spread } from "./stats.js";

/** 3 significant digits below 100, whole numbers with thousands separators above. */
export function num(value: number): string {
  if (!Number.isFinite(value)) return "–";
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US");
  return value.toPrecision(3);
}

/** "median (min–max)" */
export function spreadText(s: Spread, format: (value: number) => string = num): string {
  return `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
}

export const percent = (fraction: number) => (Number.isFinite(fraction) ? `${Math.round(fraction * 100)}%` : "–");

export function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/** A Markdown table with padded columns, readable as is in a terminal. */
export function markdownTable(columns: Column[], rows: Row[]): string {
  const cells = rows.map((row) => columns.map((c) => String(row[c.key] ?? "").replace(/\|/g, "\\|")));
  const widths = columns.map((c, i) => Math.max(c.title.length, 3, ...cells.map((r) => r[i]!.length)));
  const pad = (text: string, i: number) => (columns[i]!.align === "right" ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const line = (texts: string[]) => `| ${texts.map(pad).join(" | ")} |`;
  const rule = `|${columns.map((c, i) => (c.align === "right" ? `${"-".repeat(widths[i]! + 1)}:` : "-".repeat(widths[i]! + 2))).join("|")}|`;
  return [line(columns.map((c) => c.title)), rule, ...cells.map(line)].join("\n");
}
