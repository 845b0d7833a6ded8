// The layering of the workspace packages, checked on every import of every source file:
// a package imports only the layers below it, and no relative import leaves its package.
//
//   launch  ─ starts everything: may import any package
//   bench   ─ measures everything: may import any package (by name)
//   edge    ─ kit, proto, client (never a service's package: services are called over gRPC)
//   auth, user, room, message, notify ─ kit, proto (never another service, the edge or the launcher)
//   kit     ─ proto
//   client  ─ proto
//   web     ─ @parley/client and @parley/proto/rules; types only from anything else
//   proto   ─ nothing
//
// Test files may also import the launcher (its test harness, the local cluster) and the kit.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

interface Workspace {
  name: string;
  dir: string;
}

function workspaces(root: string): Workspace[] {
  const patterns: string[] = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).workspaces;
  const dirs = patterns.flatMap((pattern) =>
    pattern.endsWith("/*")
      ? readdirSync(join(root, pattern.slice(0, -2)))
          .map((entry) => join(pattern.slice(0, -2), entry))
          .filter((dir) => existsSync(join(root, dir, "package.json")))
      : [pattern],
  );
  return dirs.map((dir) => ({ name: JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")).name, dir: join(root, dir) }));
}

const SERVICE_DEPS = ["@parley/kit", "@parley/proto"];
/** What each package's source may import (value imports); "*" is anything. */
const ALLOWED: Record<string, string[] | "*"> = {
  "@parley/launch": "*",
  "@parley/bench": "*",
  "@parley/edge": ["@parley/kit", "@parley/proto", "@parley/client"],
  "@parley/auth": SERVICE_DEPS,
  "@parley/user": SERVICE_DEPS,
  "@parley/room": SERVICE_DEPS,
  "@parley/message": SERVICE_DEPS,
  "@parley/notify": SERVICE_DEPS,
  "@parley/kit": ["@parley/proto"],
  "@parley/client": ["@parley/proto"],
  "@parley/web": ["@parley/client", "@parley/proto/rules"],
  "@parley/proto": [],
};
/** Packages any test file may import: the launcher starts what a test needs. */
const TEST_HARNESSES = ["@parley/launch", "@parley/kit"];

interface Import {
  specifier: string;
  typeOnly: boolean;
  line: number;
}

/** Every module specifier a file imports, exports from or loads with import(). */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const add = (node: ts.Node, specifier: ts.Expression | undefined, typeOnly: boolean) => {
    if (specifier && ts.isStringLiteralLike(specifier)) {
      found.push({ specifier: specifier.text, typeOnly, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
    }
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly =
        !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((element) => element.isTypeOnly)));
      add(node, node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      add(node, node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal as ts.Expression, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules" || entry === "dist" || entry === "gen" || entry.startsWith(".")) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|tsx|mts|mjs)$/.test(entry) && !entry.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** "@parley/kit/testing" -> "@parley/kit". */
const packageOf = (specifier: string) => specifier.split("/").slice(0, 2).join("/");

/** The innermost workspace package holding a path (edge/client is inside edge). */
function owner(packages: Workspace[], path: string): Workspace | undefined {
  return packages
    .filter((p) => path === p.dir || path.startsWith(p.dir + sep))
    .sort((a, b) => b.dir.length - a.dir.length)[0];
}

function violations(root: string): string[] {
  const packages = workspaces(root);
  const problems: string[] = [];
  for (const pkg of packages) {
    const allowed = ALLOWED[pkg.name];
    if (allowed === undefined) {
      problems.push(`${pkg.name}: a workspace package without a layer in this test's table`);
      continue;
    }
    for (const file of sourceFiles(pkg.dir)) {
      if (owner(packages, file) !== pkg) continue; // a nested package's file is checked as its own
      const where = relative(root, file);
      const isTest = where.split(sep).includes("test");
      for (const { specifier, typeOnly, line } of importsOf(file)) {
        if (specifier.startsWith(".")) {
          const target = resolve(dirname(file), specifier);
          if (owner(packages, target) !== pkg) problems.push(`${where}:${line}: relative import "${specifier}" leaves ${pkg.name}`);
          continue;
        }
        if (!specifier.startsWith("@parley/")) continue;
        const target = packageOf(specifier);
        if (target === pkg.name || allowed === "*") continue;
        if (pkg.name === "@parley/web" && typeOnly) continue;
        // A layer allowed is allowed with its subpaths (@parley/proto/rules/mentions is of the rules).
        if (allowed.includes(target) || allowed.some((layer) => specifier === layer || specifier.startsWith(`${layer}/`))) continue;
        if (isTest && TEST_HARNESSES.includes(target)) continue;
        problems.push(`${where}:${line}: ${pkg.name} imports ${specifier}${typeOnly ? " (types)" : ""}, a layer it may not use`);
      }
    }
  }
  return problems;
}

/** A workspace in a temporary directory: { "path": "content" }. */
function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "parley-layering-"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

const pkg = (name: string) => JSON.stringify({ name });

describe("package layering", () => {
  it("has a layer for every workspace package", () => {
    expect(workspaces(repoRoot).map((p) => p.name).filter((name) => !(name in ALLOWED))).toEqual([]);
  });

  it("no package imports a layer above it, and no relative import crosses a workspace package", () => {
    expect(violations(repoRoot)).toEqual([]);
  });

  it("finds each kind of violation, and lets through what the layers allow", () => {
    const dir = fixture({
      "package.json": JSON.stringify({ workspaces: ["services/*", "edge", "edge/client", "web"] }),
      "services/room/package.json": pkg("@parley/room"),
      "services/room/src/a.ts": [
        'import { launch } from "@parley/edge";', // a service importing the edge
        'export { x } from "@parley/user";', // another service, re-exported
        'const m = await import("../../../edge/src/b.js");', // a relative import out of the package
        'import { ok } from "@parley/kit";',
        'import { same } from "./c.js";',
      ].join("\n"),
      "services/room/test/t.test.ts": 'import { startTestParley } from "@parley/launch/testing";',
      "edge/package.json": pkg("@parley/edge"),
      "edge/src/b.ts": 'import type { X } from "@parley/auth/verify";', // types count too outside web
      "edge/client/package.json": pkg("@parley/client"),
      "edge/client/src/c.ts": 'import { P } from "@parley/proto/socket/v1/socket_pb";',
      "web/package.json": pkg("@parley/web"),
      "web/src/d.ts": [
        'import type { AppRouter } from "@parley/edge/router";',
        'import { LiveClient } from "@parley/client";',
        'import { RULES } from "@parley/proto/rules";',
        'import { type Y } from "@parley/edge/router";',
        'import { Z } from "@parley/proto/message/v1/message_pb";', // a value import of a contract
      ].join("\n"),
    });
    try {
      expect(violations(dir)).toEqual([
        "services/room/src/a.ts:1: @parley/room imports @parley/edge, a layer it may not use",
        "services/room/src/a.ts:2: @parley/room imports @parley/user, a layer it may not use",
        'services/room/src/a.ts:3: relative import "../../../edge/src/b.js" leaves @parley/room',
        "edge/src/b.ts:1: @parley/edge imports @parley/auth/verify (types), a layer it may not use",
        "web/src/d.ts:5: @parley/web imports @parley/proto/message/v1/message_pb, a layer it may not use",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
