// Baseline: a Socket.IO 4 server with its rooms (in-memory adapter), WebSocket
// transport only, no auth and no application logic. Events: "s" (room, ack)
// joins the room and acknowledges; "p" (room, body) emits "m" (body) to the room.
import { createServer } from "node:http";
import { Server } from "socket.io";
import { serveBenchTarget } from "../lib/target-process.js";

await serveBenchTarget(async () => {
  const http = createServer();
  const io = new Server(http, { transports: ["websocket"], serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 16 * 1024 });
  io.on("connection", (socket) => {
    socket.on("s", (room: string, ack?: () => void) => {
      void socket.join(room);
      ack?.();
    });
    socket.on("p", (room: string, body: string) => {
      io.to(room).emit("m", body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(0, "127.0.0.1", resolve);
  });
  const { port } = http.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => io.close(() => resolve())),
  };
});
