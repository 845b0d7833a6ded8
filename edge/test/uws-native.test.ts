// A socket-tier file: needs a native uWebSockets.js binding for this Node and libc, so it runs
// on Node 20 here and inside the image (Node 22/24 on Debian trixie), where both builds are installed.
import type { Logger } from "@parley/kit";
import { describe, expect, it } from "vitest";
import { loadUws } from "../src/socket/uws.js";

describe("the uWebSockets.js loader on this runtime", () => {
  it("loads a native binding from one of the shipped builds and logs which one", () => {
    const lines: Record<string, unknown>[] = [];
    const log = { info: (fields: Record<string, unknown>) => void lines.push(fields), warn: () => {} } as unknown as Logger;
    const uws = loadUws(false, log);
    expect(typeof uws.App).toBe("function");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ abi: process.versions.modules, node: process.versions.node });
    expect(["@trufflesuite/uws-js-unofficial", "@btc-vision/uwebsockets.js"]).toContain(lines[0]!.package);
    // Native, not the Truffle build's JavaScript fallback (which has no us_socket_local_port binding).
    expect(process.env.UWS_USE_FALLBACK).toBeUndefined();
    const app = uws.App();
    let port = 0;
    app.listen("127.0.0.1", 0, (socket) => {
      port = socket ? uws.us_socket_local_port(socket) : -1;
      if (socket) uws.us_listen_socket_close(socket);
    });
    expect(port).toBeGreaterThan(0);
  });
});
