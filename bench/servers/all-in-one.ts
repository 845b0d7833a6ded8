// Every Parley process in one (startParley, as `npm start` runs it): the gRPC
// services, the edge and the socket tier, on free ports of 127.0.0.1, with the
// environment it was given (DATABASE_URL for PostgreSQL, rate limits, LOG_LEVEL).
import { startParley } from "@parley/launch";
import { serveBenchTarget } from "../lib/target-process.js";

await serveBenchTarget(async () => {
  const parley = await startParley({
    env: { ...process.env, SHUTDOWN_GRACE_MS: "1000" },
    ports: { user: 0, room: 0, message: 0, auth: 0, edge: 0, socket: 0 },
    host: "127.0.0.1",
    dataDir: "memory://",
  });
  return { address: parley.addresses.edge, info: { addresses: parley.addresses }, stop: () => parley.stop() };
});
