// deploy/test-image/socket-tier-tests.txt lists the test files that need a native uWebSockets.js
// binding or a browser, so that CI's Node 22 pass (no native binding for Node 22 on Debian 12)
// skips them and `npm run test:image` runs the socket-tier ones inside the image. A new file of
// that kind that is not listed fails the Node 22 pass: this test names it first.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(fileURLToPath(new URL(".", import.meta.url)), "../..");
const listed = new Map(
  readFileSync(join(root, "deploy/test-image/socket-tier-tests.txt"), "utf8")
    .split("\n")
    .filter((line) => line.trim() && !line.startsWith("#"))
    .map((line) => line.trim().split(/\s+/) as [string, string]),
);

const files = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((name) => name.endsWith(".test.ts"))
    .map((name) => `${dir}/${name}`);

describe("socket-tier-tests.txt", () => {
  it("lists every edge test that runs a live socket tier (startTestSocket, the raw socket helpers, a cluster), for the image", () => {
    const live = files("edge/test").filter((file) => /startTestSocket\(|from "\.\/sockets\.js"|startCluster\(/.test(readFileSync(join(root, file), "utf8")));
    expect(live.length).toBeGreaterThan(0);
    expect(live.filter((file) => listed.get(file) !== "image")).toEqual([]);
  });

  it("lists every browser test, for Node 20 only", () => {
    const browser = files("web/test/e2e");
    expect(browser.length).toBeGreaterThan(0);
    expect(browser.filter((file) => listed.get(file) !== "node20")).toEqual([]);
  });

  it("names only files that exist", () => {
    const all = new Set([...files("edge/test"), ...files("web/test/e2e")]);
    expect([...listed.keys()].filter((file) => !all.has(file))).toEqual([]);
  });
});
