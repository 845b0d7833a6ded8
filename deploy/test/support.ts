// What the deployment tests share: the compose file as Docker reads it, the env schemas of
// the processes in this checkout, and what a distributed deployment must set for each.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parse } from "yaml";
import type { z } from "zod";
import { isPresent, PROCESSES, repoRoot, type ProcessSpec } from "@parley/launch";

export { repoRoot };

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  healthcheck?: { test: string[] | string; [key: string]: unknown };
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
  [key: string]: unknown;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

/** docker-compose.yml with anchors and merge keys resolved, as Docker Compose reads it. */
export function loadCompose(): ComposeFile {
  return parse(readFileSync(join(repoRoot, "docker-compose.yml"), "utf8"), { merge: true }) as ComposeFile;
}

/** The compose services that run `process` (their command is the image's process argument). */
export function composeServicesOf(compose: ComposeFile, process: string): [string, ComposeService][] {
  return Object.entries(compose.services).filter(([, service]) => service.command?.[0] === process);
}

export interface ProcessUnderTest {
  spec: ProcessSpec;
  schema: z.ZodObject;
  /** Variables without a default: the process does not start without them. */
  required: string[];
  /** Variables whose default only fits one machine: DATABASE_URL, REDIS_URL, <NAME>_SERVICE_ADDR. */
  distributed: string[];
}

/**
 * The processes whose entrypoint is in this checkout, with their env schemas. A process whose
 * entrypoint exists must have its schema where PROCESSES says (the tests are strict for it);
 * one that is not written yet is left out.
 */
export async function processesUnderTest(): Promise<ProcessUnderTest[]> {
  const result: ProcessUnderTest[] = [];
  for (const spec of PROCESSES) {
    if (!isPresent(spec)) continue;
    const modulePath = join(repoRoot, spec.envSchema.module);
    if (!existsSync(modulePath)) throw new Error(`${spec.name}: ${spec.envSchema.module} (its env schema) does not exist`);
    const module = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
    const schema = module[spec.envSchema.exportName] as z.ZodObject | undefined;
    if (!schema || typeof schema !== "object" || !("shape" in schema)) {
      throw new Error(`${spec.name}: ${spec.envSchema.module} exports no zod object ${spec.envSchema.exportName}`);
    }
    const keys = Object.keys(schema.shape);
    const required = keys.filter((key) => !(schema.shape[key] as z.ZodType).safeParse(undefined).success);
    const distributed = keys.filter(
      (key) => key === "REDIS_URL" || key.endsWith("_SERVICE_ADDR") || (key === "DATABASE_URL" && spec.database !== undefined),
    );
    result.push({ spec, schema, required, distributed });
  }
  return result;
}

/** The default value the schema gives `key` when it is unset. */
export function defaultOf(schema: z.ZodObject, key: string): unknown {
  const parsed = (schema.shape[key] as z.ZodType).safeParse(undefined);
  return parsed.success ? parsed.data : undefined;
}
