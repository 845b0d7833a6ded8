// One Parley gRPC service (BENCH_SERVICE=room or message) as it starts in its
// own process in production: launch() with the environment it was given
// (DATABASE_URL, REDIS_URL, REDIS_PREFIX, LOG_LEVEL, <NAME>_SERVICE_ADDR), on 127.0.0.1,
// port BENCH_PORT (default: a free one).
import { launch as launchMessage } from "@parley/message";
import { launch as launchRoom } from "@parley/room";
import { serveBenchTarget } from "../lib/target-process.js";

const services = { room: launchRoom, message: launchMessage };

await serveBenchTarget(async () => {
  const name = process.env.BENCH_SERVICE as keyof typeof services;
  const launch = services[name];
  if (!launch) throw new Error(`BENCH_SERVICE must be one of ${Object.keys(services).join(", ")}`);
  const service = await launch({ env: { ...process.env, SHUTDOWN_GRACE_MS: "1000" }, port: Number(process.env.BENCH_PORT || 0), host: "127.0.0.1" });
  return { address: service.address, stop: () => service.stop() };
});
