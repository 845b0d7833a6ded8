// Renders deploy/k8s kustomizations: with `kubectl kustomize` when kubectl is installed,
// otherwise with a small built-in renderer that knows exactly the kustomize features these
// kustomizations use (resources, namespace, images, replicas, inline JSON 6902 patches).
// A test checks that both give the same objects wherever kubectl exists.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, parse as parseYaml } from "yaml";

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
};

let kubectl: boolean | undefined;
export function hasKubectl(): boolean {
  kubectl ??= spawnSync("kubectl", ["version", "--client"], { encoding: "utf8", timeout: 20_000 }).status === 0;
  return kubectl;
}

export function renderWithKubectl(dir: string): K8sObject[] {
  const result = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8", timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return parseObjects(result.stdout, "kubectl kustomize");
}

/** kubectl kustomize when installed (PARLEY_KUSTOMIZE=built-in forces the built-in renderer). */
export function render(dir: string): { objects: K8sObject[]; renderer: string } {
  return hasKubectl() && process.env.PARLEY_KUSTOMIZE !== "built-in" ? { objects: renderWithKubectl(dir), renderer: "kubectl kustomize" } : { objects: renderBuiltIn(dir), renderer: "built-in" };
}

export function parseObjects(text: string, source: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value = doc.toJS() as K8sObject | null;
    if (value) objects.push(value);
  }
  return objects;
}

interface Kustomization {
  resources?: string[];
  namespace?: string;
  images?: { name: string; newName?: string; newTag?: string }[];
  replicas?: { name: string; count: number }[];
  patches?: { target: { kind?: string; name?: string }; patch?: string; path?: string }[];
  [key: string]: unknown;
}

const SUPPORTED = new Set(["apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"]);
const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume", "StorageClass", "IngressClass", "PriorityClass"]);
const POD_TEMPLATES: Record<string, string[]> = {
  Deployment: ["spec", "template", "spec"],
  StatefulSet: ["spec", "template", "spec"],
  DaemonSet: ["spec", "template", "spec"],
  ReplicaSet: ["spec", "template", "spec"],
  Job: ["spec", "template", "spec"],
  CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
};

export function renderBuiltIn(dir: string): K8sObject[] {
  const kustomization = parseYaml(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as Kustomization;
  const unsupported = Object.keys(kustomization).filter((key) => !SUPPORTED.has(key));
  if (unsupported.length) throw new Error(`${dir}: the built-in renderer does not know ${unsupported.join(", ")}`);
  let objects: K8sObject[] = [];
  for (const resource of kustomization.resources ?? []) {
    const path = join(dir, resource);
    if (statSync(path).isDirectory()) objects.push(...renderBuiltIn(path));
    else objects.push(...parseObjects(readFileSync(path, "utf8"), path));
  }
  objects = structuredClone(objects);
  if (kustomization.namespace) {
    for (const object of objects) if (!CLUSTER_SCOPED.has(object.kind)) object.metadata.namespace = kustomization.namespace;
  }
  for (const patch of kustomization.patches ?? []) {
    const operations = parseYaml(patch.patch ?? readFileSync(join(dir, patch.path!), "utf8")) as JsonPatchOperation[];
    if (!Array.isArray(operations)) throw new Error(`${dir}: the built-in renderer applies JSON 6902 patches only`);
    const targets = objects.filter(
      (o) => (!patch.target.kind || o.kind === patch.target.kind) && (!patch.target.name || o.metadata.name === patch.target.name),
    );
    if (targets.length === 0) throw new Error(`${dir}: patch target ${JSON.stringify(patch.target)} matches nothing`);
    for (const target of targets) for (const operation of operations) applyOperation(target, operation);
  }
  for (const { name, count } of kustomization.replicas ?? []) {
    const targets = objects.filter((o) => ["Deployment", "StatefulSet", "ReplicaSet"].includes(o.kind) && o.metadata.name === name);
    if (targets.length === 0) throw new Error(`${dir}: replicas for ${name} match nothing`);
    for (const target of targets) (target.spec as Record<string, unknown>).replicas = count;
  }
  for (const image of kustomization.images ?? []) {
    for (const object of objects) {
      const podSpec = dig(object, POD_TEMPLATES[object.kind]);
      if (!podSpec) continue;
      for (const container of [...((podSpec.containers as Container[]) ?? []), ...((podSpec.initContainers as Container[]) ?? [])]) {
        const [repository, tag] = splitImage(container.image);
        if (repository !== image.name) continue;
        container.image = `${image.newName ?? repository}${image.newTag ? `:${image.newTag}` : tag ? `:${tag}` : ""}`;
      }
    }
  }
  return objects;
}

type Container = { image: string };
type JsonPatchOperation = { op: "add" | "replace" | "remove"; path: string; value?: unknown };

function applyOperation(target: unknown, { op, path, value }: JsonPatchOperation): void {
  const keys = path.split("/").slice(1).map((key) => key.replace(/~1/g, "/").replace(/~0/g, "~"));
  const last = keys.pop()!;
  let parent = target as Record<string, unknown> | unknown[];
  for (const key of keys) {
    const next = (parent as Record<string, unknown>)[key];
    if (next === undefined || next === null) throw new Error(`patch path ${path} does not exist`);
    parent = next as Record<string, unknown>;
  }
  if (Array.isArray(parent)) {
    const index = last === "-" ? parent.length : Number(last);
    if (op === "add") parent.splice(index, 0, value);
    else if (op === "replace") parent[index] = value;
    else parent.splice(index, 1);
    return;
  }
  if (op === "replace" && !(last in parent)) throw new Error(`patch path ${path} does not exist`);
  if (op === "remove") delete parent[last];
  else parent[last] = structuredClone(value);
}

function dig(object: unknown, path: string[] | undefined): Record<string, unknown> | undefined {
  if (!path) return undefined;
  let current = object as Record<string, unknown> | undefined;
  for (const key of path) current = current?.[key] as Record<string, unknown> | undefined;
  return current;
}

function splitImage(image: string): [string, string | undefined] {
  const slash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  return colon > slash ? [image.slice(0, colon), image.slice(colon + 1)] : [image, undefined];
}

export const kustomizationDirs = (root: string) =>
  ["base", "overlays/small", "overlays/large"].map((dir) => join(root, "deploy/k8s", dir)).filter((dir) => existsSync(join(dir, "kustomization.yaml")));

/** The pod spec of a workload object (Deployment, Job, ...), if it has one. */
export function podSpecOf(object: K8sObject): Record<string, unknown> | undefined {
  return dig(object, POD_TEMPLATES[object.kind]);
}
