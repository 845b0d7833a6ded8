import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { UserService } from "@parley/proto/user/v1/user_pb";
import { createServiceClient } from "../src/index.js";
import { TEST_INTERNAL_SECRET, testInternalAuth } from "../src/testing.js";

describe("graceful shutdown", () => {
  it("lets in-flight calls finish after SIGTERM, refuses new ones, and exits 0", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "services/kit/test/fixtures/slow-server.ts"], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, LOG_LEVEL: "silent", INTERNAL_AUTH_SECRET: TEST_INTERNAL_SECRET },
    });
    const [line] = (await once(child.stdout!, "data")) as [Buffer];
    const port = Number(line.toString().trim());
    const client = createServiceClient(UserService, `127.0.0.1:${port}`, { defaultTimeoutMs: 30_000, internalAuth: testInternalAuth() });

    // The connection is up and the credential signed before the calls whose timing matters.
    await client.getUser({ id: "warm-up" });
    // Three calls that each take 700 ms are running when SIGTERM arrives.
    const inFlight = [1, 2, 3].map((n) => client.getUser({ id: `slow-${n}` }));
    await new Promise((r) => setTimeout(r, 150));
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 100));

    const late = await client.getUser({ id: "late" }).catch((e) => ConnectError.from(e));
    const results = await Promise.all(inFlight);
    const [code] = (await exited) as [number];

    expect(results.map((r) => r.user?.id)).toEqual(["slow-1", "slow-2", "slow-3"]);
    expect(late).toBeInstanceOf(ConnectError);
    expect((late as ConnectError).code).toBe(Code.Unavailable);
    expect(code).toBe(0);
  });
});
