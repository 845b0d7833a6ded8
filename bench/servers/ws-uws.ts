// Baseline: a bare uWebSockets.js pub/sub server (the same build as Parley's socket
// tier, native binding) with no auth and no application logic. Text frames:
// "s <room>" subscribes the socket to the topic <room> and answers "ok <room>";
// "p <room> <body>" publishes <body> to every subscriber of <room> (uWS's own
// topic fan-out, as Parley's socket tier uses it).
import { createRequire } from "node:module";
import { serveBenchTarget } from "../lib/target-process.js";

type Uws = typeof import("uWebSockets.js");

await serveBenchTarget(async () => {
  const require = createRequire(import.meta.url);
  // The native binding, as edge/src/socket/uws.ts loads it (never the JavaScript fallback).
  const uws = require(`uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`) as Uws;
  const decoder = new TextDecoder();
  const app = uws.App();
  app.ws("/*", {
    maxPayloadLength: 16 * 1024,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    // As Parley's socket tier: 4 MiB of unsent data per socket before it is closed.
    maxBackpressure: 4 * 1024 * 1024,
    closeOnBackpressureLimit: 1,
    message: (ws, data) => {
      const text = decoder.decode(data);
      if (text.startsWith("p ")) {
        const space = text.indexOf(" ", 2);
        app.publish(text.slice(2, space), text.slice(space + 1), false);
      } else if (text.startsWith("s ")) {
        const room = text.slice(2);
        ws.subscribe(room);
        ws.send(`ok ${room}`, false);
      }
    },
  });
  const listen = await new Promise<Parameters<Uws["us_listen_socket_close"]>[0] | false>((resolve) => app.listen("127.0.0.1", 0, resolve));
  if (!listen) throw new Error("uWebSockets.js could not listen");
  const port = uws.us_socket_local_port(listen as unknown as Parameters<Uws["us_socket_local_port"]>[0]);
  return {
    address: `127.0.0.1:${port}`,
    async stop() {
      uws.us_listen_socket_close(listen);
    },
  };
});
