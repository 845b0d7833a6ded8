// Parley's all-in-one mode (startParley, as `npm start` runs it) for the WebSocket
// scenarios: every service, the edge and the socket tier in this one process, on
// free ports of 127.0.0.1, with the in-memory broker (or Redis at BENCH_REDIS_URL), on
// the PostgreSQL database named by DATABASE_URL (so that what it stores can be counted from outside).
import { startParley } from "@parley/launch";
import { serveBenchTarget } from "../lib/target-process.js";

await serveBenchTarget(async () => {
  const parley = await startParley({
    env: { ...process.env, REDIS_URL: process.env.BENCH_REDIS_URL ?? "" },
    ports: { user: 0, room: 0, message: 0, auth: 0, edge: 0, socket: 0 },
    host: "127.0.0.1",
    dataDir: "memory://",
  });
  return { address: parley.addresses.edge, info: { addresses: parley.addresses }, stop: () => parley.stop() };
});
