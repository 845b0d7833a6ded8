// The delivery guarantee across processes: two socket nodes and two message-service
// replicas (separate processes) on this machine's PostgreSQL and Redis.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import WebSocket from "ws";
import { LiveClient, type Message } from "@parley/client";
import { TEST_DATABASE_URL, TEST_REDIS_URL, testDatabase } from "@parley/kit/testing";
import { startCluster, type RunningCluster } from "@parley/launch";

const ROOMS = 5;
const USERS = 20;
const PASSWORD = "correct horse battery staple";

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)("two socket nodes and two message services on PostgreSQL and Redis", () => {
  const db = testDatabase();
  const prefix = `parley-test:${randomBytes(4).toString("hex")}:`;
  let cluster: RunningCluster;
  let edgeUrl: string;
  let socketUrls: string[];

  beforeAll(async () => {
    cluster = await startCluster({
      databaseUrl: db.databaseUrl,
      redisUrl: TEST_REDIS_URL,
      redisPrefix: prefix,
      ports: "free",
      messageReplicas: 2,
      socketReplicas: 2,
      env: { LOG_LEVEL: "warn", SOCKET_HEAD_CHECK_MS: "1000", RATE_REGISTER_PER_HOUR: "1000" },
      output: () => undefined,
    });
    edgeUrl = `http://${cluster.addresses.edge}`;
    socketUrls = cluster.instances.filter((i) => i.process === "socket").map((i) => `ws://${i.address}/ws`);
    expect(socketUrls).toHaveLength(2);
    expect(cluster.instances.filter((i) => i.process === "message")).toHaveLength(2);
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
    await db.drop();
  }, 120_000);

  async function call(method: string, path: string, body?: unknown, token?: string) {
    const res = await fetch(`${edgeUrl}/api/v1${path}`, {
      method,
      headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  it(
    "delivers 3000 messages sent through both nodes to 20 clients on both nodes, exactly once and in order, through a Redis cut and the crash of a socket node and a message replica",
    async () => {
      const users: { accessToken: string; user: { id: string } }[] = [];
      for (let i = 0; i < USERS; i++) {
        const username = `mn_${i}_${randomBytes(3).toString("hex")}`;
        users.push(await call("POST", "/auth/register", { email: `${username}@example.com`, username, password: PASSWORD }));
      }
      const rooms: string[] = [];
      for (let r = 0; r < ROOMS; r++) rooms.push((await call("POST", "/rooms", { name: `room ${r}`, visibility: "public" }, users[0]!.accessToken)).id);
      // Each user is in two rooms: r = i % 5 and (i + 1) % 5.
      const roomsOf = (i: number) => [rooms[i % ROOMS]!, rooms[(i + 1) % ROOMS]!];
      // User 0 created (and so is in) every room.
      for (let i = 1; i < USERS; i++) for (const roomId of roomsOf(i)) await call("POST", `/rooms/${roomId}/join`, undefined, users[i]!.accessToken);

      const received: Map<string, bigint[]>[] = [];
      const clients = users.map((user, i) => {
        const client = new LiveClient({
          // Its own node first, the other one when that is gone.
          url: [socketUrls[i % 2]!, socketUrls[(i + 1) % 2]!],
          getToken: async () => user.accessToken,
          WebSocket: WebSocket as never,
          backoff: { baseMs: 100, maxMs: 1000 },
        });
        const perRoom = new Map<string, bigint[]>();
        received.push(perRoom);
        client.on("message", (m: Message) => {
          if (!perRoom.has(m.roomId)) perRoom.set(m.roomId, []);
          perRoom.get(m.roomId)!.push(m.seq);
        });
        for (const roomId of roomsOf(i)) client.subscribe(roomId, 0n);
        client.connect();
        return client;
      });
      await waitFor(() => clients.every((c) => c.connectionState === "live"), 30_000);
      await new Promise((r) => setTimeout(r, 500));

      const admin = new Redis(TEST_REDIS_URL!);
      const sendBatch = async (from: number, to: number) => {
        const sends: Promise<unknown>[] = [];
        for (let n = from; n < to; n++) {
          const sender = n % USERS;
          const roomId = roomsOf(sender)[n % 2]!;
          sends.push(clients[sender]!.send(roomId, `message ${n}`, { clientMsgId: `mn-${n}` }));
          if (sends.length >= 40) await Promise.all(sends.splice(0));
        }
        await Promise.all(sends);
      };
      await sendBatch(0, 1000);
      // Cut every Redis connection of this cluster: subscribers miss what is published meanwhile.
      const list = (await admin.client("LIST")) as string;
      const ours = list
        .split("\n")
        .filter((line) => line.includes(`name=parley-${prefix}`))
        .map((line) => /id=(\d+)/.exec(line)?.[1])
        .filter(Boolean);
      expect(ours.length).toBeGreaterThanOrEqual(4);
      for (const id of ours) await admin.client("KILL", "ID", id!);
      await sendBatch(1000, 2000);
      await admin.quit();
      // Crash a socket node and a message-service replica while messages flow; both come back.
      const crashes = (async () => {
        await new Promise((r) => setTimeout(r, 300));
        await cluster.restart("socket-1");
        await cluster.restart("message-2");
      })();
      await sendBatch(2000, 3000);
      await crashes;

      // Every client ends with every message of its rooms, exactly once, in order.
      const stats = await Promise.all(
        rooms.map(async (roomId) => ({ roomId, last: (await call("GET", `/messages/${roomId}?limit=1`, undefined, users[0]!.accessToken)).lastSeq as number })),
      );
      const total = stats.reduce((sum, s) => sum + s.last, 0);
      // Exactly the messages sent are stored: retries after the crashes made no copies.
      expect(total).toBe(3000);
      await waitFor(
        () => users.every((_, i) => roomsOf(i).every((roomId) => (received[i]!.get(roomId)?.length ?? 0) >= stats.find((s) => s.roomId === roomId)!.last)),
        60_000,
      );
      for (let i = 0; i < USERS; i++) {
        for (const roomId of roomsOf(i)) {
          const last = stats.find((s) => s.roomId === roomId)!.last;
          expect(received[i]!.get(roomId)!.map(Number), `user ${i} room ${roomId}`).toEqual(Array.from({ length: last }, (_, k) => k + 1));
        }
      }
      for (const client of clients) client.close();
    },
    300_000,
  );
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}
