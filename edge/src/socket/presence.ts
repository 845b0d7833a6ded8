// Presence across socket nodes: each node records, per user with sockets on it,
// "online" or "away" with an expiry it keeps renewing. A user is online if any
// node says so; entries of a dead node expire, so its users fall offline.
import { PresenceState } from "@parley/proto/events/v1/events_pb";
import type { Redis } from "ioredis";

export interface PresenceStore {
  /** Records the state of `userId` on `nodeId` until `ttlMs` from now. */
  set(userId: string, nodeId: string, state: PresenceState.ONLINE | PresenceState.AWAY, ttlMs: number): Promise<void>;
  /** Forgets `userId` on `nodeId` (their last socket there closed). */
  remove(userId: string, nodeId: string): Promise<void>;
  /** Aggregated state of each user: online beats away beats offline. */
  states(userIds: string[]): Promise<Map<string, PresenceState>>;
  close(): Promise<void>;
}

function aggregate(entries: Iterable<[PresenceState, number]>, now: number): PresenceState {
  let best = PresenceState.OFFLINE;
  for (const [state, expiresAt] of entries) {
    if (expiresAt <= now) continue;
    if (state === PresenceState.ONLINE) return PresenceState.ONLINE;
    if (state === PresenceState.AWAY) best = PresenceState.AWAY;
  }
  return best;
}

export class MemoryPresenceStore implements PresenceStore {
  private readonly entries = new Map<string, Map<string, [PresenceState, number]>>();

  async set(userId: string, nodeId: string, state: PresenceState, ttlMs: number): Promise<void> {
    let nodes = this.entries.get(userId);
    if (!nodes) this.entries.set(userId, (nodes = new Map()));
    nodes.set(nodeId, [state, Date.now() + ttlMs]);
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

  async set(userId: string, nodeId: string, state: PresenceState, ttlMs: number): Promise<void> {
    const key = this.key(userId);
    // The hash itself expires too, so users whose every node died leave nothing behind.
    await this.redis.multi().hset(key, nodeId, `${state}|${Date.now() + ttlMs}`).pexpire(key, ttlMs * 2).exec();
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
    return new Map(
      userIds.map((id, i) => {
        const fields = (replies[i]?.[1] ?? {}) as Record<string, string>;
        const entries = Object.values(fields).map((value): [PresenceState, number] => {
          const [state, expiresAt] = value.split("|");
          return [Number(state) as PresenceState, Number(expiresAt)];
        });
        return [id, aggregate(entries, now)];
      }),
    );
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
