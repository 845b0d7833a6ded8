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
    "delivers 3000 messages sent through both nodes, and edits, deletes, role changes and renames made meanwhile, to 20 clients on both nodes, exactly once and in order, through a Redis cut and the crash of a socket node and a message replica",
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
      /** Per client and room: each message as last applied, and the positions of the message lane in the order they came. */
      const copies: Map<string, { body: string; deleted: boolean }>[] = [];
      const positions: Map<string, bigint[]>[] = [];
      const names: Map<string, string>[] = [];
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
        const copy = new Map<string, { body: string; deleted: boolean }>();
        const lane = new Map<string, bigint[]>();
        const roomNames = new Map<string, string>();
        copies.push(copy);
        positions.push(lane);
        names.push(roomNames);
        const apply = (m: Message) => {
          copy.set(m.id, { body: m.body, deleted: m.deleted });
          if (!lane.has(m.roomId)) lane.set(m.roomId, []);
          lane.get(m.roomId)!.push(m.change);
        };
        client.on("message", (m: Message) => {
          if (!perRoom.has(m.roomId)) perRoom.set(m.roomId, []);
          perRoom.get(m.roomId)!.push(m.seq);
          apply(m);
        });
        client.on("edited", apply);
        client.on("deleted", apply);
        client.on("roomUpdated", ({ roomId, room }) => room && roomNames.set(roomId, room.name));
        for (const roomId of roomsOf(i)) client.subscribe(roomId, 0n);
        client.connect();
        return client;
      });
      await waitFor(() => clients.every((c) => c.connectionState === "live"), 30_000);
      await new Promise((r) => setTimeout(r, 500));

      const admin = new Redis(TEST_REDIS_URL!);
      const sent: Message[] = [];
      const sendBatch = async (from: number, to: number) => {
        const sends: Promise<Message>[] = [];
        for (let n = from; n < to; n++) {
          const sender = n % USERS;
          const roomId = roomsOf(sender)[n % 2]!;
          sends.push(clients[sender]!.send(roomId, `message ${n}`, { clientMsgId: `mn-${n}` }));
          if (sends.length >= 40) sent.push(...(await Promise.all(sends.splice(0))));
        }
        sent.push(...(await Promise.all(sends)));
      };
      /** Edits every 10th message of [from, to) and deletes every 25th, through the edge, by their senders. */
      const changeBatch = async (from: number, to: number) => {
        for (let n = from; n < to; n++) {
          const message = sent.find((m) => m.clientMsgId === `mn-${n}`)!;
          const token = users[n % USERS]!.accessToken;
          if (n % 25 === 7) await call("DELETE", `/messages/${message.id}`, undefined, token);
          else if (n % 10 === 3) await call("PUT", `/messages/${message.id}`, { body: `message ${n}, edited` }, token);
        }
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
      // While the broker is cut: new messages, edits and deletes of older ones, a role change and a rename.
      await Promise.all([
        sendBatch(1000, 2000),
        changeBatch(0, 1000),
        (async () => {
          for (const roomId of rooms) await call("PUT", `/rooms/${roomId}`, { name: `renamed ${roomId.slice(-4)}` }, users[0]!.accessToken);
          await call("PUT", `/rooms/${rooms[1]!}/members/${users[1]!.user.id}`, { role: "admin" }, users[0]!.accessToken);
        })(),
      ]);
      await admin.quit();
      // Crash a socket node and a message-service replica while messages flow; both come back.
      const crashes = (async () => {
        await new Promise((r) => setTimeout(r, 300));
        await cluster.restart("socket-1");
        await cluster.restart("message-2");
      })();
      await Promise.all([sendBatch(2000, 3000), changeBatch(1000, 2000)]);
      await crashes;
      await changeBatch(2000, 3000);

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
        () =>
          users
            .flatMap((_, i) =>
              roomsOf(i).map((roomId) => {
                const got = received[i]!.get(roomId) ?? [];
                const last = stats.find((s) => s.roomId === roomId)!.last;
                const have = new Set(got.map(Number));
                const missing = Array.from({ length: last }, (_, k) => k + 1).filter((k) => !have.has(k));
                return missing.length ? `user ${i} (${clients[i]!.connectionState}) room ${roomId}: ${got.length}/${last}, missing ${missing.slice(0, 10).join(",")}${missing.length > 10 ? "…" : ""}` : "";
              }),
            )
            .filter(Boolean)
            .join("\n"),
      );
      for (let i = 0; i < USERS; i++) {
        for (const roomId of roomsOf(i)) {
          const last = stats.find((s) => s.roomId === roomId)!.last;
          expect(received[i]!.get(roomId)!.map(Number), `user ${i} room ${roomId}`).toEqual(Array.from({ length: last }, (_, k) => k + 1));
        }
      }
      // ...and every edit and delete: each client's copy is what a fresh load shows, reached by
      // each position of the message lane at most once, in order, and every room's new name.
      const fresh = new Map<string, { body: string; deleted: boolean }>();
      for (const roomId of rooms) {
        for (let after = 0; ; ) {
          const page = await call("GET", `/messages/${roomId}?after=${after}&limit=100`, undefined, users[0]!.accessToken);
          for (const m of page.messages) fresh.set(m.id, { body: m.body, deleted: m.deleted });
          if (!page.hasNewer) break;
          after = page.messages.at(-1).seq;
        }
      }
      const expected = (i: number) => [...sent.filter((m) => roomsOf(i).includes(m.roomId)).map((m) => [m.id, fresh.get(m.id)] as const)];
      await waitFor(() => users.every((_, i) => expected(i).every(([id, state]) => copies[i]!.get(id)?.body === state?.body)), 60_000);
      for (let i = 0; i < USERS; i++) {
        for (const [id, state] of expected(i)) expect(copies[i]!.get(id), `user ${i} message ${id}`).toEqual(state);
        for (const roomId of roomsOf(i)) {
          const lane = positions[i]!.get(roomId)!;
          expect(lane.every((p, k) => k === 0 || p > lane[k - 1]!), `user ${i} room ${roomId}: positions in order, none twice`).toBe(true);
          expect(names[i]!.get(roomId)).toBe(`renamed ${roomId.slice(-4)}`);
        }
      }
      expect([...fresh.values()].filter((m) => m.deleted)).toHaveLength(120);
      expect([...fresh.values()].filter((m) => m.body.endsWith(", edited"))).toHaveLength(300);
      for (const client of clients) client.close();
    },
    420_000,
  );
});

async function waitFor(condition: () => boolean, timeoutMs: number, explain?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met in time${explain ? `\n${explain()}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
