// deploy/k8s: the base and both overlays render, every object is valid against the Kubernetes
// schemas, and the manifests do what the issue asks (probes, limits, hardening, autoscaling,
// disruption budget, secrets, migration Job, ingress routes, overlay sizes).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { isPresent, PROCESSES, startOrder } from "@parley/launch";
import { schemaProblems } from "./k8s-schema.js";
import { hasKubectl, kustomizationDirs, parseObjects, podSpecOf, render, renderBuiltIn, renderWithKubectl, type K8sObject } from "./kustomize.js";
import { repoRoot } from "./support.js";

type Container = {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string }[];
};
type Probe = { grpc?: { port: number; service?: string }; httpGet?: { path: string; port: number | string } };
type PodSpec = { containers: Container[]; volumes?: { name: string; emptyDir?: object }[]; securityContext?: Record<string, unknown>; [key: string]: unknown };

const renders = kustomizationDirs(repoRoot).map((dir) => ({ dir: dir.slice(repoRoot.length + 1), ...render(dir) }));
const base = renders.find((r) => r.dir === "deploy/k8s/base")!;
const find = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
const containerOf = (object: K8sObject) => (podSpecOf(object) as PodSpec).containers[0]!;
const present = PROCESSES.filter((p) => isPresent(p));

describe("deploy/k8s renders", () => {
  it("has a base and the small and large overlays", () => {
    expect(renders.map((r) => r.dir)).toEqual(["deploy/k8s/base", "deploy/k8s/overlays/small", "deploy/k8s/overlays/large"]);
  });

  for (const { dir, objects, renderer } of renders) {
    it(`${dir} (${renderer}): every object is valid against the Kubernetes schemas`, () => {
      expect(objects.length).toBeGreaterThan(0);
      expect(objects.flatMap(schemaProblems)).toEqual([]);
    });
  }

  it("the schema check catches a broken object", () => {
    const deployment = structuredClone(find(base.objects, "Deployment", "user")!);
    delete (deployment.spec as Record<string, unknown>).selector;
    expect(schemaProblems(deployment).join()).toMatch(/selector/);
  });

  it.skipIf(!hasKubectl())("the built-in renderer (used where kubectl is missing) gives what kubectl kustomize gives", () => {
    for (const dir of kustomizationDirs(repoRoot)) {
      const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
      const expected = new Map(renderWithKubectl(dir).map((o) => [key(o), o]));
      const actual = new Map(renderBuiltIn(dir).map((o) => [key(o), o]));
      expect([...actual.keys()].sort(), dir).toEqual([...expected.keys()].sort());
      for (const [k, object] of expected) expect(isDeepStrictEqual(actual.get(k), object), `${dir} ${k}`).toBe(true);
    }
  });
});

describe.each(renders)("$dir", ({ objects }) => {
  const secrets = parseObjects(readFileSync(join(repoRoot, "deploy/k8s/secrets.example.yaml"), "utf8"), "secrets.example.yaml");

  it("puts everything in one namespace", () => {
    expect(new Set(objects.map((o) => o.metadata.namespace))).toEqual(new Set(["parley"]));
  });

  it("has a Deployment and a Service per process, running the process from the one image", () => {
    const images = new Set<string>();
    for (const spec of present) {
      const deployment = find(objects, "Deployment", spec.name);
      expect(deployment, `Deployment ${spec.name}`).toBeDefined();
      const container = containerOf(deployment!);
      expect(container.args, spec.name).toEqual([spec.name]);
      images.add(container.image);
      const service = find(objects, "Service", spec.name)!;
      expect(service, `Service ${spec.name}`).toBeDefined();
      const servicePort = (service.spec as { ports: { port: number; targetPort: string | number }[] }).ports[0]!;
      expect(servicePort.port, `${spec.name} Service port`).toBe(spec.port);
      const containerPort = container.ports!.find((p) => p.name === servicePort.targetPort || p.containerPort === servicePort.targetPort);
      expect(containerPort?.containerPort, `${spec.name} targetPort`).toBe(spec.port);
      const selector = (service.spec as { selector: Record<string, string> }).selector;
      const podLabels = ((deployment!.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels);
      for (const [label, value] of Object.entries(selector)) expect(podLabels[label], `${spec.name} selector ${label}`).toBe(value);
    }
    expect(images.size, "one image for every process").toBe(1);
  });

  it("probes gRPC services with grpc.health.v1 and HTTP processes with GET /healthz, on their ports", () => {
    for (const spec of present) {
      const container = containerOf(find(objects, "Deployment", spec.name)!);
      for (const probe of ["readinessProbe", "livenessProbe"] as const) {
        const p = container[probe];
        expect(p, `${spec.name} ${probe}`).toBeDefined();
        if (spec.health === "grpc") expect(p!.grpc, `${spec.name} ${probe}`).toEqual({ port: spec.port });
        else {
          expect(p!.httpGet?.path, `${spec.name} ${probe}`).toBe("/healthz");
          const port = p!.httpGet!.port;
          const resolved = typeof port === "number" ? port : container.ports!.find((c) => c.name === port)?.containerPort;
          expect(resolved, `${spec.name} ${probe} port`).toBe(spec.port);
        }
      }
    }
  });

  it("sets resource requests and limits on every container", () => {
    for (const object of objects.filter((o) => podSpecOf(o))) {
      for (const container of (podSpecOf(object) as PodSpec).containers) {
        for (const kind of ["requests", "limits"] as const) {
          expect(container.resources?.[kind]?.cpu, `${object.metadata.name} ${kind}.cpu`).toBeDefined();
          expect(container.resources?.[kind]?.memory, `${object.metadata.name} ${kind}.memory`).toBeDefined();
        }
      }
    }
  });

  it("runs every container non-root, read-only, without capabilities, with seccomp and an emptyDir on /tmp", () => {
    for (const object of objects.filter((o) => podSpecOf(o))) {
      const pod = podSpecOf(object) as PodSpec;
      const name = `${object.kind} ${object.metadata.name}`;
      expect(pod.securityContext, name).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } });
      expect(pod.automountServiceAccountToken, name).toBe(false);
      for (const container of pod.containers) {
        expect(container.securityContext, name).toMatchObject({
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
        const tmp = container.volumeMounts?.find((m) => m.mountPath === "/tmp");
        expect(tmp, `${name} mounts /tmp`).toBeDefined();
        expect(pod.volumes?.find((v) => v.name === tmp!.name)?.emptyDir, `${name} /tmp is an emptyDir`).toBeDefined();
      }
    }
  });

  it("takes every secretKeyRef from a Secret that secrets.example.yaml documents, with that key", () => {
    const refs = objects.filter((o) => podSpecOf(o)).flatMap((o) => (podSpecOf(o) as PodSpec).containers.flatMap((c) => c.env ?? []));
    const secretRefs = refs.flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
    expect(secretRefs.length).toBeGreaterThan(0);
    for (const ref of secretRefs) {
      const secret = secrets.find((s) => s.kind === "Secret" && s.metadata.name === ref.name);
      expect(secret, `Secret ${ref.name}`).toBeDefined();
      expect(Object.keys((secret as unknown as { stringData: Record<string, string> }).stringData), `Secret ${ref.name}`).toContain(ref.key);
    }
    expect(objects.filter((o) => o.kind === "Secret"), "no Secret in the kustomization: applying it never overwrites real ones").toEqual([]);
    expect(secrets.flatMap(schemaProblems)).toEqual([]);
  });

  it("autoscales the socket tier and bounds its voluntary disruptions", () => {
    if (!present.some((p) => p.name === "socket")) return;
    const hpa = find(objects, "HorizontalPodAutoscaler", "socket")!;
    expect(hpa).toBeDefined();
    const spec = hpa.spec as { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number };
    expect(spec.scaleTargetRef).toMatchObject({ kind: "Deployment", name: "socket" });
    expect(spec.minReplicas).toBeGreaterThanOrEqual(1);
    expect(spec.maxReplicas).toBeGreaterThan(spec.minReplicas);
    expect((find(objects, "Deployment", "socket")!.spec as { replicas?: number }).replicas, "the HPA owns the replica count").toBeUndefined();
    const pdb = find(objects, "PodDisruptionBudget", "socket")!;
    expect(pdb).toBeDefined();
    const podLabels = (find(objects, "Deployment", "socket")!.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
    for (const [label, value] of Object.entries((pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels)) {
      expect(podLabels[label]).toBe(value);
    }
  });

  it("has a migration Job that migrates every service's database with that service's credentials", () => {
    const job = find(objects, "Job", "parley-migrate")!;
    expect(job).toBeDefined();
    const container = containerOf(job);
    expect(container.args).toEqual(["migrate"]);
    expect((podSpecOf(job) as PodSpec).restartPolicy).toBe("Never");
    for (const spec of present.filter((p) => p.database)) {
      const serviceRef = containerOf(find(objects, "Deployment", spec.name)!).env!.find((e) => e.name === "DATABASE_URL")!.valueFrom!.secretKeyRef;
      const jobRef = container.env!.find((e) => e.name === `${spec.name.toUpperCase()}_DATABASE_URL`)?.valueFrom?.secretKeyRef;
      expect(jobRef, `${spec.name}'s database in the Job`).toEqual(serviceRef);
    }
  });

  it("routes /, /api and /trpc to the edge and /ws to the socket tier, with hour-long proxy timeouts", () => {
    const ingress = objects.find((o) => o.kind === "Ingress")!;
    expect(ingress).toBeDefined();
    const paths = (ingress.spec as { rules: { http: { paths: { path: string; backend: { service: { name: string; port: { name?: string; number?: number } } } }[] } }[] })
      .rules.flatMap((r) => r.http.paths);
    const route = (path: string) => paths.find((p) => p.path === path)?.backend.service;
    expect(route("/")?.name).toBe("edge");
    expect(route("/api")?.name).toBe("edge");
    expect(route("/trpc")?.name).toBe("edge");
    expect(route("/ws")?.name).toBe("socket");
    for (const { backend } of paths) {
      const service = find(objects, "Service", backend.service.name)!;
      const ports = (service.spec as { ports: { name: string; port: number }[] }).ports;
      expect(ports.some((p) => p.name === backend.service.port.name || p.port === backend.service.port.number), backend.service.name).toBe(true);
    }
    expect(ingress.metadata.annotations).toMatchObject({
      "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
      "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
    });
  });
});

describe("network policies", () => {
  type Selector = { matchLabels?: Record<string, string> };
  type PolicySpec = { podSelector: Selector; policyTypes: string[]; ingress: { from: { podSelector: Selector }[] }[] };
  const policies = base.objects.filter((o) => o.kind === "NetworkPolicy").map((o) => o.spec as PolicySpec);
  const grpcServices = present.filter((p) => p.health === "grpc");

  it("let each gRPC service be reached only by the processes that call it (the process table of @parley/launch)", () => {
    for (const service of grpcServices) {
      const mine = policies.filter((p) => p.podSelector.matchLabels?.["app.kubernetes.io/name"] === service.name);
      expect(mine, `one policy selects ${service.name}`).toHaveLength(1);
      const [policy] = mine;
      expect(policy!.policyTypes).toEqual(["Ingress"]);
      const admitted = policy!.ingress.flatMap((rule) => rule.from.map((peer) => peer.podSelector.matchLabels?.["app.kubernetes.io/name"]));
      const callers = PROCESSES.filter((p) => p.calls.includes(service.name)).map((p) => p.name);
      expect(admitted.sort(), `callers of ${service.name}`).toEqual(callers.sort());
    }
    expect(policies).toHaveLength(grpcServices.length);
  });

  it("follow a call graph without cycles: every process starts after the services it calls", () => {
    const order = startOrder(PROCESSES).map((p) => p.name);
    for (const spec of PROCESSES) {
      for (const callee of spec.calls) expect(order.indexOf(callee), `${callee} starts before ${spec.name}`).toBeLessThan(order.indexOf(spec.name));
    }
  });
});

describe("overlays", () => {
  const byDir = (dir: string) => renders.find((r) => r.dir === dir)!.objects;
  const replicas = (objects: K8sObject[], name: string) => (find(objects, "Deployment", name)!.spec as { replicas?: number }).replicas;
  const hpa = (objects: K8sObject[]) => find(objects, "HorizontalPodAutoscaler", "socket")!.spec as { minReplicas: number; maxReplicas: number };
  const memoryLimit = (objects: K8sObject[], name: string) => containerOf(find(objects, "Deployment", name)!).resources!.limits!.memory;
  const mebibytes = (quantity: unknown) => {
    const match = String(quantity).match(/^(\d+)(Mi|Gi)$/)!;
    return Number(match[1]) * (match[2] === "Gi" ? 1024 : 1);
  };

  it("small runs fewer replicas and smaller pods than large, and large autoscales further", () => {
    const small = byDir("deploy/k8s/overlays/small");
    const large = byDir("deploy/k8s/overlays/large");
    for (const spec of present.filter((p) => p.name !== "socket")) {
      expect(replicas(small, spec.name), spec.name).toBe(1);
      expect(replicas(large, spec.name)!, spec.name).toBeGreaterThan(replicas(byDir("deploy/k8s/base"), spec.name)!);
      expect(mebibytes(memoryLimit(small, spec.name)), spec.name).toBeLessThan(mebibytes(memoryLimit(large, spec.name)));
    }
    expect(hpa(small).maxReplicas).toBeLessThan(hpa(large).minReplicas + 1);
    expect(hpa(large).maxReplicas).toBeGreaterThan(hpa(byDir("deploy/k8s/base")).maxReplicas);
  });
});
