import { defineConfig } from "vitest/config";

// One run over every workspace. PARLEY_TEST_DATABASE_URL / PARLEY_TEST_REDIS_URL
// switch the suite from embedded PGlite and the in-memory broker to real servers.
export default defineConfig({
  test: {
    include: ["proto/test/**/*.test.ts", "services/*/test/**/*.test.ts", "edge/test/**/*.test.ts", "launch/test/**/*.test.ts", "deploy/test/**/*.test.ts", "web/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    reporters: ["default"],
  },
});
