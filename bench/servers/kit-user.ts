// The real user service (@parley/user) as it starts in production: the kit's
// gRPC server, MikroORM on embedded PGlite (in memory), logs at LOG_LEVEL.
import { launch } from "@parley/user";
import { serveBenchTarget } from "../lib/target-process.js";

await serveBenchTarget(() =>
  launch({
    // Embedded PGlite whatever the caller's environment says.
    env: { ...process.env, DATABASE_URL: "", REDIS_URL: "", SHUTDOWN_GRACE_MS: "1000" },
    port: 0,
    host: "127.0.0.1",
    dataDir: "memory://",
  }),
);
