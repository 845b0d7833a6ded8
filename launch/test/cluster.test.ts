// start:cluster and the migration runner, against real databases. The migration runner runs
// in both passes of the suite (embedded PGlite, or PARLEY_TEST_DATABASE_URL); the cluster
// needs PostgreSQL and Redis, so it runs in the PostgreSQL + Redis pass only.
import { createLogger } from "@parley/kit";
import { accepts, nonLoopbackIPv4, TEST_DATABASE_URL, TEST_REDIS_URL, testDatabase } from "@parley/kit/testing";
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { startCluster, type RunningCluster } from "../src/cluster.js";
import { checkGrpcHealth, checkHttp } from "../src/healthcheck.mjs";
import { migrateAll } from "../src/migrate.js";
import { addressVariable, isPresent, PROCESSES } from "../src/processes.js";

const withDatabases = PROCESSES.filter((p) => p.database && isPresent(p)).map((p) => p.name);

describe("launch/src/migrate.ts", () => {
  const db = testDatabase();
  afterAll(() => db.drop());

  it("migrates every service's database, and running it again changes nothing", async () => {
    const env = { DATABASE_URL: db.databaseUrl, DATA_DIR: "memory://" };
    const log = createLogger("migrate", "silent");
    const first = await migrateAll(env, log);
    expect(first.map((r) => r.service).sort()).toEqual([...withDatabases].sort());
    if (!db.databaseUrl) return; // embedded in memory: a second run would start from scratch
    const again = await migrateAll(env, log);
    expect(again.map((r) => r.service).sort()).toEqual([...withDatabases].sort());
  }, 120_000);
});

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)("npm run start:cluster (startCluster)", () => {
  const db = testDatabase();
  let cluster: RunningCluster | undefined;
  const lines: string[] = [];
  afterAll(async () => {
    await cluster?.stop();
    await db.drop();
  });

  it("starts every process as its own child process, healthy, with replicas of message and socket, and stops them all", async () => {
    cluster = await startCluster({
      databaseUrl: db.databaseUrl!,
      redisUrl: TEST_REDIS_URL!,
      redisPrefix: `parley-test-${randomBytes(4).toString("hex")}:`,
      ports: "free",
      env: { LOG_LEVEL: "info" },
      output: (line) => lines.push(line),
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n--- what the processes printed last:\n${lines.slice(-30).join("\n")}`);
    });
    const present = PROCESSES.filter((p) => isPresent(p));
    expect(new Set(cluster.instances.map((i) => i.process))).toEqual(new Set(present.map((p) => p.name)));
    expect(cluster.instances.filter((i) => i.process === "message")).toHaveLength(2);
    if (present.some((p) => p.name === "socket")) expect(cluster.instances.filter((i) => i.process === "socket")).toHaveLength(2);
    expect(new Set(cluster.instances.map((i) => i.pid)).size).toBe(cluster.instances.length);

    for (const instance of cluster.instances) {
      const spec = present.find((p) => p.name === instance.process)!;
      if (spec.health === "grpc") expect(await checkGrpcHealth(instance.address), instance.name).toBe("SERVING");
      else expect(await checkHttp(`http://${instance.address}/healthz`), instance.name).toBe(200);
    }
    // Each process listens on loopback only (BIND_ADDRESS from the cluster) and says where.
    const outside = nonLoopbackIPv4();
    for (const instance of cluster.instances) {
      expect(lines.some((line) => line.startsWith(instance.name) && line.includes(`listening on ${instance.address}`)), instance.name).toBe(true);
      if (outside) expect(await accepts(outside, Number(instance.address.split(":")[1])), `${instance.name} on ${outside}`).toBe(false);
    }
    // The processes share the cluster's internal credential key: a registration crosses edge → auth → user.
    const username = `c_${randomBytes(4).toString("hex")}`;
    const registered = await fetch(`http://${cluster.addresses.edge}/api/v1/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: `${username}@example.com`, username, password: "correct horse battery staple" }),
    });
    expect(registered.status).toBe(201);
    // Both message replicas take traffic: callers are spread over them.
    const messageCallers = cluster.instances.map((i) => i.calls[addressVariable("message")]).filter(Boolean);
    const replicas = cluster.instances.filter((i) => i.process === "message").map((i) => i.address);
    for (const replica of replicas) expect(messageCallers, `someone calls ${replica}`).toContain(replica);

    const pids = cluster.instances.map((i) => i.pid);
    await cluster.stop();
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid} has exited`).toThrow();
    // Every line a child printed reached the output, prefixed with its instance name.
    expect(lines.some((line) => /^message-2 +\| \{/.test(line))).toBe(true);
  }, 300_000);
});

