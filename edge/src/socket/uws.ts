// Loads uWebSockets.js's native binding, and refuses to run on the package's slow
// JavaScript fallback unless the operator asked for it (UWS_ALLOW_FALLBACK=true).
import { createRequire } from "node:module";
import type { Logger } from "@parley/kit";

export type Uws = typeof import("uWebSockets.js");
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket, us_socket_context_t } from "uWebSockets.js";

const require = createRequire(import.meta.url);

export function loadUws(allowFallback: boolean, log: Logger): Uws {
  const binary = `uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  try {
    const native = require(binary) as Uws;
    log.info({ binding: binary }, "uWebSockets.js native binding loaded");
    return native;
  } catch (error) {
    const reason = `uWebSockets.js has no native binding for ${process.platform}-${process.arch} with Node ABI ${process.versions.modules} (${(error as Error).message.split("\n")[0]})`;
    if (!allowFallback) {
      throw new Error(`${reason}. Use Node.js 20 on Linux x64/arm64, or set UWS_ALLOW_FALLBACK=true to run on the slow JavaScript fallback.`);
    }
    log.warn({ reason }, "running the socket tier on uWebSockets.js's JavaScript fallback: expect far lower throughput");
    process.env.UWS_USE_FALLBACK = "true";
    return require("uWebSockets.js") as Uws;
  }
}
