// Types of healthcheck.mjs (plain JavaScript so that it runs without tsx).
export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";

export function checkGrpcHealth(address: string, options?: { service?: string; timeoutMs?: number }): Promise<ServingStatus | string>;
export function checkHttp(url: string, options?: { timeoutMs?: number }): Promise<number>;
export function checkTcp(address: string, options?: { timeoutMs?: number }): Promise<void>;
