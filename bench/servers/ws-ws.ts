// Baseline: a plain `ws` server (no auth, no application logic) with rooms kept
// in a Map of Sets, broadcasting the way ws's README shows (send to each client
// in a loop). Same text protocol as ws-uws.ts: "s <room>" → "ok <room>"; "p <room> <body>".
import { WebSocketServer, type WebSocket } from "ws";
import { serveBenchTarget } from "../lib/target-process.js";

await serveBenchTarget(async () => {
  const rooms = new Map<string, Set<WebSocket>>();
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 16 * 1024 });
  server.on("connection", (ws) => {
    const joined: string[] = [];
    ws.on("message", (data: Buffer, isBinary) => {
      if (isBinary) return;
      const text = data.toString("utf8");
      if (text.startsWith("p ")) {
        const space = text.indexOf(" ", 2);
        const body = text.slice(space + 1);
        for (const client of rooms.get(text.slice(2, space)) ?? []) client.send(body);
      } else if (text.startsWith("s ")) {
        const room = text.slice(2);
        let members = rooms.get(room);
        if (!members) rooms.set(room, (members = new Set()));
        members.add(ws);
        joined.push(room);
        ws.send(`ok ${room}`);
      }
    });
    ws.on("close", () => {
      for (const room of joined) rooms.get(room)?.delete(ws);
    });
    ws.on("error", () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
});
