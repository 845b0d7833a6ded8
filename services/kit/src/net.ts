import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A port that was free a moment ago on `host` (for tests and local clusters), picked at random
 * below the kernel's ephemeral range. A port from listen(0) comes from that range, where every
 * outgoing connection (to PostgreSQL, Redis, another service) also takes its local port, so
 * one of them could take it before the caller binds it.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const [low, high] = BELOW_EPHEMERAL;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canListen(host, port)) return port;
  }
  return listenOnce(host, 0);
}

const BELOW_EPHEMERAL: [number, number] = (() => {
  try {
    const [start] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (start && start > 12_000) return [10_000, start];
  } catch {
    // not Linux: IANA's dynamic range starts at 49152
  }
  return [10_000, 32_768];
})();

function canListen(host: string, port: number): Promise<boolean> {
  return listenOnce(host, port).then(
    () => true,
    () => false,
  );
}

function listenOnce(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, host, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}
