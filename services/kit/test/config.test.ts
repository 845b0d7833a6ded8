import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, env, parseEnv, serviceEnvShape } from "../src/index.js";

const schema = z.object({ ...serviceEnvShape(3002), USER_SERVICE_ADDR: env.address("127.0.0.1:3002") });

describe("configuration from the environment", () => {
  it("applies defaults when variables are unset or empty", () => {
    const config = parseEnv(schema, { PORT: "", DATABASE_URL: "", BIND_ADDRESS: "", INTERNAL_AUTH_SECRET: "a".repeat(32) });
    expect(config.PORT).toBe(3002);
    expect(config.BIND_ADDRESS).toBe("127.0.0.1");
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.USER_SERVICE_ADDR).toBe("127.0.0.1:3002");
  });

  it("names every bad variable in one message", () => {
    const parse = () => parseEnv(schema, { PORT: "eighty", DATABASE_URL: "mysql://x/y", USER_SERVICE_ADDR: "nohost" });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(/PORT/);
    expect(parse).toThrow(/DATABASE_URL: expected a postgres or postgresql URL/);
    expect(parse).toThrow(/USER_SERVICE_ADDR: expected host:port/);
  });

  it("stops a service at boot with exit code 78 and the variable's name", async () => {
    const { spawnSync } = await import("node:child_process");
    const result = spawnSync(process.execPath, ["--import", "tsx", "services/user/src/main.ts"], {
      env: { ...process.env, PORT: "99999", INTERNAL_AUTH_SECRET: "a".repeat(32) },
      encoding: "utf8",
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toMatch(/PORT: /);
  });

  it("stops a service at boot with exit code 78 when INTERNAL_AUTH_SECRET is missing or shorter than 32 bytes", async () => {
    const { spawnSync } = await import("node:child_process");
    for (const secret of [undefined, "", "too short"]) {
      const env = { ...process.env, PORT: "0", DATABASE_URL: "", DATA_DIR: "memory://", INTERNAL_AUTH_SECRET: secret };
      if (secret === undefined) delete env.INTERNAL_AUTH_SECRET;
      const result = spawnSync(process.execPath, ["--import", "tsx", "services/user/src/main.ts"], { env, encoding: "utf8", timeout: 60_000 });
      expect(result.status, String(secret)).toBe(78);
      expect(result.stderr).toMatch(secret ? /INTERNAL_AUTH_SECRET: must be at least 32 bytes/ : /INTERNAL_AUTH_SECRET: required/);
    }
  });
});
