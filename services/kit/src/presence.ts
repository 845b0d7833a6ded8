// Presence across socket nodes (in the kit since issue 18: the socket tier writes it, the
// notification worker asks "online anywhere?" before a push or an email): each node records, per user with sockets on it,
// "online" or "away" with an expiry it keeps renewing. A user is online if any
// node says so; entries of a dead node expire, so its users fall offline. Each
// entry also carries how many sockets the user has on that node: the per-user
// socket cap counts them across nodes, and a dead node's count expires with it.
import { PresenceState } from "@parley/proto/events/v1/events_pb";
import type { Redis } from "ioredis";
import type { Logger } from "./logger.js";
import { createRedis } from "./redis.js";

export interface PresenceStore {
  /** Records the state of `userId` on `nodeId`, and their number of sockets there, until `ttlMs` from now. */
  set(userId: string, nodeId: string, state: PresenceState.ONLINE | PresenceState.AWAY, ttlMs: number, sockets: number): Promise<void>;
  /** Forgets `userId` on `nodeId` (their last socket there closed). */
  remove(userId: string, nodeId: string): Promise<void>;
  /** Aggregated state of each user: online beats away beats offline. */
  states(userIds: string[]): Promise<Map<string, PresenceState>>;
  /** Sockets of `userId` on live nodes other than `nodeId`. */
  socketsElsewhere(userId: string, nodeId: string): Promise<number>;
  close(): Promise<void>;
}

interface Entry {
  state: PresenceState;
  expiresAt: number;
  sockets: number;
}

function socketsOf(entries: Iterable<[string, Entry]>, exceptNodeId: string, now: number): number {
  let sockets = 0;
  for (const [nodeId, entry] of entries) if (nodeId !== exceptNodeId && entry.expiresAt > now) sockets += entry.sockets;
  return sockets;
}

function aggregate(entries: Iterable<Entry>, now: number): PresenceState {
  let best = PresenceState.OFFLINE;
  for (const { state, expiresAt } of entries) {
    if (expiresAt <= now) continue;
    if (state === PresenceState.ONLINE) return PresenceState.ONLINE;
    if (state === PresenceState.AWAY) best = PresenceState.AWAY;
  }
  return best;
}

export class MemoryPresenceStore implements PresenceStore {
  private readonly entries = new Map<string, Map<string, Entry>>();

  async set(userId: string, nodeId: string, state: PresenceState, ttlMs: number, sockets: number): Promise<void> {
    let nodes = this.entries.get(userId);
    if (!nodes) this.entries.set(userId, (nodes = new Map()));
    nodes.set(nodeId, { state, expiresAt: Date.now() + ttlMs, sockets });
  }

  async remove(userId: string, nodeId: string): Promise<void> {
    const nodes = this.entries.get(userId);
    nodes?.delete(nodeId);
    if (nodes?.size === 0) this.entries.delete(userId);
  }

  async states(userIds: string[]): Promise<Map<string, PresenceState>> {
    const now = Date.now();
    return new Map(userIds.map((id) => [id, aggregate(this.entries.get(id)?.values() ?? [], now)]));
  }

  async socketsElsewhere(userId: string, nodeId: string): Promise<number> {
    return socketsOf(this.entries.get(userId) ?? [], nodeId, Date.now());
  }

  async close(): Promise<void> {}
}

export class RedisPresenceStore implements PresenceStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(userId: string): string {
    return `${this.prefix}presence:${userId}`;
  }

  async set(userId: string, nodeId: string, state: PresenceState, ttlMs: number, sockets: number): Promise<void> {
    const key = this.key(userId);
    // The hash itself expires too, so users whose every node died leave nothing behind.
    await this.redis.multi().hset(key, nodeId, `${state}|${Date.now() + ttlMs}|${sockets}`).pexpire(key, ttlMs * 2).exec();
  }

  async remove(userId: string, nodeId: string): Promise<void> {
    await this.redis.hdel(this.key(userId), nodeId);
  }

  async states(userIds: string[]): Promise<Map<string, PresenceState>> {
    if (userIds.length === 0) return new Map();
    const pipeline = this.redis.pipeline();
    for (const id of userIds) pipeline.hgetall(this.key(id));
    const replies = (await pipeline.exec()) ?? [];
    const now = Date.now();
    return new Map(userIds.map((id, i) => [id, aggregate(parseEntries(replies[i]?.[1]).values(), now)]));
  }

  async socketsElsewhere(userId: string, nodeId: string): Promise<number> {
    return socketsOf(parseEntries(await this.redis.hgetall(this.key(userId))), nodeId, Date.now());
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** A presence hash: node id -> "state|expiresAt|sockets" (entries of older nodes lack the count). */
function parseEntries(reply: unknown): Map<string, Entry> {
  const fields = (reply ?? {}) as Record<string, string>;
  return new Map(
    Object.entries(fields).map(([nodeId, value]) => {
      const [state, expiresAt, sockets] = value.split("|");
      return [nodeId, { state: Number(state) as PresenceState, expiresAt: Number(expiresAt), sockets: Number(sockets ?? 0) || 0 }];
    }),
  );
}

/** Redis presence when `redisUrl` is set (every node and service sees it), in memory otherwise. */
export function createPresenceStore(redisUrl: string | undefined, log: Logger, redisPrefix = "parley:"): PresenceStore {
  return redisUrl ? new RedisPresenceStore(createRedis(redisUrl, `${redisPrefix}presence`, log), redisPrefix) : new MemoryPresenceStore();
}
