// The edge alone in its own process (so that its memory and CPU are its own), in front of the
// services of another process: BENCH_ADDRESSES is their addresses as JSON ({auth, user, room,
// message, notify}), as the all-in-one target reports them.
import { launch } from "@parley/edge";
import { serveBenchTarget } from "../lib/target-process.js";

await serveBenchTarget(async () => {
  const addresses = JSON.parse(process.env.BENCH_ADDRESSES ?? "{}") as Record<string, string>;
  const edge = await launch({ env: { ...process.env, SHUTDOWN_GRACE_MS: "1000", WEB_ROOT: "/nonexistent" }, port: 0, host: "127.0.0.1", addresses });
  return { address: edge.address, stop: () => edge.stop() };
});
