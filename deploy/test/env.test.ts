// Every variable a process needs in a distributed deployment is set for it, in
// docker-compose.yml and in every rendering of the Kubernetes manifests. The list comes from
// the code: the processes' zod env schemas (a variable without a default is required), plus
// the variables whose defaults only fit one machine (DATABASE_URL for a process with a
// database, REDIS_URL, every <NAME>_SERVICE_ADDR). Processes not written yet are skipped;
// once a process's entrypoint exists, its schema must exist too and the checks are strict.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { addressVariable, databaseVariable, isPresent, PROCESSES, processSpec, type ProcessName } from "@parley/launch";
import { kustomizationDirs, podSpecOf, render, type K8sObject } from "./kustomize.js";
import { composeServicesOf, defaultOf, loadCompose, processesUnderTest, repoRoot } from "./support.js";

const processes = await processesUnderTest();
const compose = loadCompose();
const renders = kustomizationDirs(repoRoot).map((dir) => ({ dir: dir.slice(repoRoot.length + 1), objects: render(dir).objects }));

type EnvVar = {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
};
type Container = { args?: string[]; env?: EnvVar[]; envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[]; ports?: { name?: string; containerPort: number }[] };

/** What a container's environment resolves to: a literal, or where it comes from. */
function kubernetesEnv(objects: K8sObject[], container: Container): Map<string, { value?: string; from?: string }> {
  const env = new Map<string, { value?: string; from?: string }>();
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      const configMap = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === source.configMapRef!.name);
      expect(configMap, `ConfigMap ${source.configMapRef.name}`).toBeDefined();
      for (const [key, value] of Object.entries((configMap as unknown as { data: Record<string, string> }).data)) env.set(key, { value });
    }
  }
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) env.set(variable.name, { value: variable.value });
    else if (variable.valueFrom?.secretKeyRef) env.set(variable.name, { from: `secret ${variable.valueFrom.secretKeyRef.name}/${variable.valueFrom.secretKeyRef.key}` });
    else if (variable.valueFrom?.configMapKeyRef) {
      const { name, key } = variable.valueFrom.configMapKeyRef;
      const configMap = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === name) as { data: Record<string, string> } | undefined;
      env.set(variable.name, { value: configMap?.data[key] });
    } else if (variable.valueFrom?.fieldRef) env.set(variable.name, { from: `field ${variable.valueFrom.fieldRef.fieldPath}` });
  }
  return env;
}

const containersOf = (objects: K8sObject[], process: ProcessName) =>
  objects
    .filter((o) => o.kind === "Deployment")
    .flatMap((o) => (podSpecOf(o)!.containers as Container[]).filter((c) => c.args?.[0] === process));

describe("the env schemas, as the processes table knows them", () => {
  it("finds the schema of every process whose entrypoint exists", () => {
    expect(processes.map((p) => p.spec.name)).toEqual(PROCESSES.filter((p) => isPresent(p)).map((p) => p.name));
  });

  for (const { spec, schema, distributed } of processes) {
    it(`${spec.name}: its port, the services it calls and its database match its code`, () => {
      expect(defaultOf(schema, "PORT"), `${spec.name}'s default PORT`).toBe(spec.port);
      const addresses = Object.keys(schema.shape).filter((key) => key.endsWith("_SERVICE_ADDR")).sort();
      expect(addresses, `${spec.name} calls`).toEqual(spec.calls.map(addressVariable).sort());
      expect(distributed).toContain("REDIS_URL");
      if (spec.database) expect(distributed).toContain("DATABASE_URL");
      // A process has a database exactly when its source has a db.ts next to its main.ts.
      expect(spec.database !== undefined, `${spec.name} has a database`).toBe(existsSync(join(repoRoot, dirname(spec.entry), "db.ts")));
    });
  }
});

describe.each(processes)("$spec.name gets every variable it needs", ({ spec, required, distributed }) => {
  const needed = [...new Set([...required, ...distributed])];

  it("in docker-compose.yml", () => {
    const services = composeServicesOf(compose, spec.name);
    expect(services.length, `a compose service runs ${spec.name}`).toBeGreaterThan(0);
    for (const [name, service] of services) {
      const env = service.environment ?? {};
      for (const variable of needed) {
        expect(String(env[variable] ?? ""), `${name}: ${variable}`).not.toBe("");
      }
      // Each address names the compose service that runs the callee, on the port it listens on.
      for (const variable of needed.filter((v) => v.endsWith("_SERVICE_ADDR"))) {
        const [host, port] = String(env[variable]).split(":");
        const target = compose.services[host!];
        const callee = variable.replace(/_SERVICE_ADDR$/, "").toLowerCase();
        expect(target?.command?.[0], `${name}: ${variable}=${env[variable]} runs ${callee}`).toBe(callee);
        expect(String(target!.environment?.PORT), `${name}: ${variable} port`).toBe(port);
      }
      if (!spec.database) expect(env.DATABASE_URL, `${name} has no database: no database credentials`).toBeUndefined();
    }
  });

  for (const { dir, objects } of renders) {
    it(`in ${dir}`, () => {
      const containers = containersOf(objects, spec.name);
      expect(containers.length, `a Deployment runs ${spec.name}`).toBeGreaterThan(0);
      for (const container of containers) {
        const env = kubernetesEnv(objects, container);
        for (const variable of needed) {
          const entry = env.get(variable);
          expect(entry?.value || entry?.from, `${spec.name}: ${variable}`).toBeTruthy();
        }
        for (const variable of ["DATABASE_URL", "REDIS_URL"].filter((v) => needed.includes(v))) {
          expect(env.get(variable)?.from, `${spec.name}: ${variable} comes from a Secret`).toMatch(/^secret /);
        }
        // Each address names the Service of the callee, on its port.
        for (const variable of needed.filter((v) => v.endsWith("_SERVICE_ADDR"))) {
          const [host, port] = String(env.get(variable)!.value).split(":");
          const callee = processSpec(variable.replace(/_SERVICE_ADDR$/, "").toLowerCase())!;
          const service = objects.find((o) => o.kind === "Service" && o.metadata.name === host);
          expect(service, `${spec.name}: ${variable} names a Service`).toBeDefined();
          expect((service!.spec as { ports: { port: number }[] }).ports.map((p) => p.port), `${spec.name}: ${variable}`).toContain(Number(port));
          expect(containersOf(objects, callee.name).length, `${variable}: a Deployment runs ${callee.name}`).toBeGreaterThan(0);
        }
        if (!spec.database) expect(env.has("DATABASE_URL"), `${spec.name} has no database: no database credentials`).toBe(false);
        expect(env.get("PORT")?.value, `${spec.name}: PORT`).toBe(String(spec.port));
      }
    });
  }
});

describe("docs/operations.md", () => {
  const docs = readFileSync(join(repoRoot, "docs/operations.md"), "utf8");

  it("documents every variable of every process, and the migration runner's", () => {
    const variables = new Set(processes.flatMap((p) => Object.keys(p.schema.shape)));
    for (const spec of PROCESSES.filter((p) => p.database)) variables.add(databaseVariable(spec.name));
    const missing = [...variables].filter((variable) => !docs.includes(`\`${variable}\``));
    expect(missing, "variables docs/operations.md does not mention").toEqual([]);
  });
});
