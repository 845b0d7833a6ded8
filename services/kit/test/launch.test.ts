// defineService: the one bootstrap of the gRPC services. Env overrides, the order of stop steps,
// and what a failed start releases.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineService, serviceEnvShape, type GrpcServer } from "../src/index.js";
import { TEST_INTERNAL_SECRET } from "../src/testing.js";

const schema = z.object({ ...serviceEnvShape(3999), OTHER_SERVICE_ADDR: z.string().default("127.0.0.1:1") });
const env = { INTERNAL_AUTH_SECRET: TEST_INTERNAL_SECRET, LOG_LEVEL: "silent" };

function fakeServer(events: string[], listen = async (port: number) => port || 4321): GrpcServer {
  return {
    listen,
    shutdown: async () => void events.push("grpc stopped"),
    setServing: () => {},
    inFlight: 0,
  };
}

describe("defineService", () => {
  it("parses the env with the launch's overrides, opens, listens and stops in order", async () => {
    const events: string[] = [];
    let seen: { port: number; other: string; dataDir: string } | undefined;
    const launch = defineService({
      name: "probe",
      env: schema,
      async open({ config, dataDir }) {
        seen = { port: config.PORT, other: config.OTHER_SERVICE_ADDR, dataDir };
        return { close: async () => void events.push("deps closed") };
      },
      build: () => fakeServer(events),
    });
    const service = await launch({ env, port: 0, host: "127.0.0.1", addresses: { other: "10.0.0.1:5" } });
    expect(seen).toEqual({ port: 0, other: "10.0.0.1:5", dataDir: "./data/probe" });
    expect(service).toMatchObject({ name: "probe", address: "127.0.0.1:4321" });
    await service.stop();
    expect(events).toEqual(["grpc stopped", "deps closed"]);
  });

  it("closes what it opened when it cannot listen, and passes the error on", async () => {
    const events: string[] = [];
    const launch = defineService({
      name: "probe",
      env: schema,
      open: async () => ({ close: async () => void events.push("deps closed") }),
      build: () => fakeServer(events, async () => Promise.reject(new Error("EADDRINUSE"))),
    });
    await expect(launch({ env, dataDir: "memory://" })).rejects.toThrow("EADDRINUSE");
    expect(events).toEqual(["deps closed"]);
  });

  it("refuses a bad env with a ConfigError before opening anything", async () => {
    let opened = false;
    const launch = defineService({
      name: "probe",
      env: schema,
      open: async () => ((opened = true), { close: async () => {} }),
      build: () => fakeServer([]),
    });
    await expect(launch({ env: { ...env, PORT: "not a port" } })).rejects.toThrow(/PORT/);
    expect(opened).toBe(false);
  });
});
