// Validates Kubernetes objects against the Kubernetes OpenAPI schemas, as compiled to ajv
// validators by the kubernetes-models package (no download at test time). Those schemas, like
// the API server's, allow unknown fields: the manifest tests assert the fields that matter.
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { K8sObject } from "./kustomize.js";

type Model = new (data: never) => { validate(): void };

const MODELS: Record<string, Model> = {
  "v1/ConfigMap": ConfigMap as unknown as Model,
  "v1/Secret": Secret as unknown as Model,
  "v1/Service": Service as unknown as Model,
  "apps/v1/Deployment": Deployment as unknown as Model,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler as unknown as Model,
  "batch/v1/Job": Job as unknown as Model,
  "networking.k8s.io/v1/Ingress": Ingress as unknown as Model,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy as unknown as Model,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget as unknown as Model,
};

/** Problems of `object` against its kind's schema; an unknown apiVersion/kind is a problem too. */
export function schemaProblems(object: K8sObject): string[] {
  const key = `${object.apiVersion}/${object.kind}`;
  const model = MODELS[key];
  if (!model) return [`${key} ${object.metadata?.name}: no schema known for this apiVersion/kind`];
  try {
    new model(object as never).validate();
    return [];
  } catch (error) {
    return [`${key} ${object.metadata?.name}: ${(error as Error).message}`];
  }
}
