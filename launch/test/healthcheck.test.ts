// launch/src/healthcheck.mjs against a real Parley gRPC server (the kit's bootstrap, which every
// service uses) and a real HTTP server: the compose healthchecks and start:cluster rely on it.
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { createGrpcServer, createLogger, type GrpcServer } from "@parley/kit";
import { testInternalAuth } from "@parley/kit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkGrpcHealth, checkHttp, checkTcp } from "../src/healthcheck.mjs";
import { repoRoot } from "../src/processes.js";

let grpc: GrpcServer;
let grpcAddress: string;
let http: Server;
let httpUrl: string;

beforeAll(async () => {
  grpc = createGrpcServer({ name: "probe", services: [], log: createLogger("probe", "silent"), internalAuth: testInternalAuth() });
  grpcAddress = `127.0.0.1:${await grpc.listen(0, "127.0.0.1")}`;
  http = createServer((req, res) => res.writeHead(req.url === "/healthz" ? 200 : 503).end());
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  httpUrl = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
});

afterAll(async () => {
  await grpc.shutdown(100);
  await new Promise((resolve) => http.close(resolve));
});

/** Runs the command line (asynchronously: the servers answering it live in this process). */
const cli = (...args: string[]) =>
  new Promise<{ status: number | null; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(repoRoot, "launch/src/healthcheck.mjs"), ...args], { encoding: "utf8", timeout: 20_000 }, (error, _stdout, stderr) =>
      resolve({ status: error ? (typeof error.code === "number" ? error.code : null) : 0, stderr }),
    );
  });

describe("gRPC health (grpc.health.v1 over h2c)", () => {
  it("reports SERVING for the server (service \"\")", async () => {
    expect(await checkGrpcHealth(grpcAddress)).toBe("SERVING");
  });

  it("reports NOT_SERVING once the server is draining", async () => {
    grpc.setServing(false);
    try {
      expect(await checkGrpcHealth(grpcAddress)).toBe("NOT_SERVING");
      expect((await cli("grpc", grpcAddress)).status).toBe(1);
    } finally {
      grpc.setServing(true);
    }
  });

  it("fails with the gRPC status for a service the server does not know", async () => {
    await expect(checkGrpcHealth(grpcAddress, { service: "no.such.Service" })).rejects.toThrow(/grpc-status 5/);
  });

  it("fails when nothing listens", async () => {
    await expect(checkGrpcHealth("127.0.0.1:1", { timeoutMs: 1_000 })).rejects.toThrow();
  });

  it("exits 0 from the command line when healthy, 1 otherwise", async () => {
    expect((await cli("grpc", grpcAddress)).status).toBe(0);
    const down = await cli("grpc", "127.0.0.1:1");
    expect(down.status).toBe(1);
    expect(down.stderr).toMatch(/unhealthy/);
    expect((await cli("nonsense")).status).toBe(64);
  });
});

describe("HTTP and TCP checks", () => {
  it("reads the status of GET /healthz", async () => {
    expect(await checkHttp(`${httpUrl}/healthz`)).toBe(200);
    expect(await checkHttp(`${httpUrl}/other`)).toBe(503);
    expect((await cli("http", `${httpUrl}/healthz`)).status).toBe(0);
    expect((await cli("http", `${httpUrl}/other`)).status).toBe(1);
  });

  it("connects over TCP", async () => {
    await expect(checkTcp(httpUrl.replace("http://", ""))).resolves.toBeUndefined();
    await expect(checkTcp("127.0.0.1:1")).rejects.toThrow();
  });
});
