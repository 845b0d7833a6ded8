// ws-storm (S3): 10k clients connect and subscribe at once to Parley's distributed
// mode (2 socket nodes), messages flowing all along; then socket node 1 is killed
// (SIGKILL: its clients fail over to node 2 and resume) and started again, and
// node 2 is stopped gracefully (SIGTERM: every client gets 1012 and moves to node 1).
// Reported: time until all are subscribed again, errors, and messages missed
// (every client's last seq against each room's head in PostgreSQL, gaps): must be 0.
import { asUser, createServiceClient } from "@parley/kit";
import { LiveClient } from "@parley/client";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import WebSocket from "ws";
import { num } from "../lib/format.js";
import { withCleanup, type Cleanup, type BenchOptions, type Row, type Scenario, type ScenarioReport } from "../lib/scenario.js";
import { acquireCluster, clusterUsers, createRooms, joinRooms, releaseCluster, problemSummary, roomHeads, startSocketNode, waitForExit, type BenchUser } from "../lib/ws-parley.js";
import { clock, messageBody, type Endpoint } from "../lib/ws-subscriber.js";
import { Swarm, type SwarmStatus } from "../lib/ws-swarm.js";
import { benchInternalAuth } from "../lib/target-process.js";

const PROBES = 4;

interface EventResult {
  event: string;
  affected: number;
  /** From the event to the moment every client was subscribed again, ms. */
  allLiveMs: number;
  reconnects: number;
  failedAttempts: number;
  errors: Map<string, number>;
  firstErrors: string[];
  notLive: number;
}

export const wsStorm: Scenario = {
  name: "ws-storm",
  description:
    "Connection storm and socket node restarts on Parley's distributed mode: 10k clients connect and subscribe, node 1 is killed and restarted, node 2 stopped gracefully; time until all are subscribed again, errors, messages missed (must be 0)",
  run: withCleanup(measure),
};

async function measure(options: BenchOptions, cleanup: Cleanup): Promise<ScenarioReport> {
  const clients = options.quick ? 1_000 : 10_000;
  const roomCount = options.quick ? 20 : 100;
  const userCount = options.quick ? 10 : 50;
  const rate = options.quick ? 20 : 50;

  const cluster = await acquireCluster(options.log, options.quick);
  // Nodes are killed and restarted: this cluster goes to no other scenario.
  cluster.damaged = true;
  cleanup.push(() => releaseCluster(cluster));
  const swarm = await Swarm.start({ processes: 2 });
  cleanup.push(() => swarm.stop());

  const users = await clusterUsers(cluster, userCount + 1);
  const [owner, ...members] = users as [BenchUser, ...BenchUser[]];
  const rooms = await createRooms(cluster.edge, owner, roomCount, `storm-${Date.now().toString(36)}`);
  // Client i is members[i % U] in rooms[i % R]: every member joins the rooms it needs.
  const pairs = new Map<string, { user: BenchUser; roomId: string }>();
  for (let i = 0; i < Math.max(roomCount, members.length) * 2; i++) {
    const user = members[i % members.length]!;
    const roomId = rooms[i % roomCount]!;
    pairs.set(`${user.id}|${roomId}`, { user, roomId });
  }
  await joinRooms(cluster.edge, [...pairs.values()]);
  const nodes: Endpoint[] = cluster.sockets.map((s) => ({ host: s.host, port: s.port }));
  options.log(`${clients} clients, ${roomCount} rooms, ${members.length} users; socket nodes ${cluster.sockets.map((s) => `${s.name} :${s.port}`).join(", ")}`);

  // Messages flow during everything: SendMessage straight to the message service, open loop.
  const messages = createServiceClient(MessageService, cluster.messageAddress, { internalAuth: benchInternalAuth });
  let sending = true;
  let sent = 0;
  let sendErrors = 0;
  let firstSendError = "";
  const sender = (async () => {
    const started = clock.nowUs();
    for (let k = 0; sending; k++) {
      const due = started + (k * 1e6) / rate;
      const wait = (due - clock.nowUs()) / 1000;
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const room = rooms[k % roomCount]!;
      messages.sendMessage({ roomId: room, clientMsgId: `storm-${k}`, body: messageBody(100, due, k, room) }, asUser(owner.id)).then(
        () => sent++,
        (error: unknown) => {
          sendErrors++;
          firstSendError ||= String(error);
        },
      );
    }
  })();
  cleanup.push(async () => {
    sending = false;
    await sender;
  });

  // The node that gets killed (and, in the full run, started again).
  const killed = 0;
  const survivor = 1 - killed;
  // LiveClient probes on that node (single URL: they wait for it to come back).
  const probes = Array.from({ length: PROBES }, (_, p) => {
    const counts = new Map<string, number>();
    const client = new LiveClient({
      url: `ws://${nodes[killed]!.host}:${nodes[killed]!.port}/ws`,
      getToken: async () => owner.token,
      WebSocket: WebSocket as unknown as ConstructorParameters<typeof LiveClient>[0]["WebSocket"],
      encoding: "json",
    });
    const probeRooms = rooms.filter((_, j) => j % PROBES === p).slice(0, 5);
    const first = new Map<string, bigint>();
    let liveSince = 0;
    client.on("live", ({ roomId, lastSeq }) => {
      if (!first.has(roomId)) first.set(roomId, lastSeq);
      liveSince = performance.now();
    });
    client.on("message", (m) => counts.set(m.roomId, (counts.get(m.roomId) ?? 0) + 1));
    for (const room of probeRooms) client.subscribe(room);
    client.connect();
    return { client, counts, first, rooms: probeRooms, liveAt: () => liveSince };
  });
  cleanup.push(async () => {
    for (const p of probes) p.client.close();
  });

  const results: EventResult[] = [];
  // 1. The storm: every client connects and subscribes at once.
  const sockets = Array.from({ length: clients }, (_, i) => ({ rooms: [rooms[i % roomCount]!], token: members[i % members.length]!.token, sample: false, endpoint: i % 2 }));
  const stormStart = clock.nowUs() / 1000;
  const connected = await swarm.connect("storm", "parley", nodes, sockets, {
    concurrency: clients,
    reconnect: true,
    expectedCloses: [1012, 1006],
    subscribeRetries: 30,
    timeoutMs: options.quick ? 90_000 : 300_000,
  });
  Object.assign(tally, { gaps: 0, duplicates: 0, reconnects: 0, failedAttempts: 0 });
  results.push(await eventResult(swarm, `${num(clients)} clients connect and subscribe at once (half to each node)`, clients, stormStart, connected.live));
  options.log(`storm: ${connected.live} of ${clients} live in ${num(connected.ms / 1000)} s`);
  await settle(2_000);

  // 2. Node 1 crashes (SIGKILL): its clients fail over to node 2 and resume with afterSeq; then it starts again.
  const node1 = cluster.sockets[killed]!;
  const before1 = await swarm.status("storm");
  const onNode1 = before1.liveByEndpoint[killed] ?? 0;
  const killAt = clock.nowUs() / 1000;
  process.kill(node1.pid, "SIGKILL");
  options.log(`killed ${node1.name} (pid ${node1.pid}, ${onNode1} clients)`);
  const e1 = await waitAllLive(swarm, clients, options.quick ? 90_000 : 240_000);
  results.push(await eventResult(swarm, `${node1.name} killed (SIGKILL): its clients fail over to ${cluster.sockets[survivor]!.name}`, onNode1, killAt, e1.live));
  let restartMs = Number.NaN;
  let probeDowntime = Number.NaN;
  if (!options.quick) {
    const restartAt = performance.now();
    const restarted = await startSocketNode(cluster, killed);
    restartMs = performance.now() - restartAt;
    options.log(`${node1.name} started again (pid ${restarted}) in ${num(restartMs / 1000)} s`);
    const probesBack = await waitFor(() => probes.every((p) => p.liveAt() > restartAt), 60_000);
    probeDowntime = probesBack ? (Math.max(...probes.map((p) => p.liveAt())) - restartAt) / 1000 : Number.NaN;
    await settle(2_000);

    // 3. Node 2 stops gracefully (SIGTERM: 1012 "restarting" to every client): all move to node 1.
    const node2 = cluster.sockets[survivor]!;
    const before2 = await swarm.status("storm");
    const onNode2 = before2.liveByEndpoint[survivor] ?? 0;
    const termAt = clock.nowUs() / 1000;
    process.kill(node2.pid, "SIGTERM");
    options.log(`stopping ${node2.name} gracefully (pid ${node2.pid}, ${onNode2} clients)`);
    const e2 = await waitAllLive(swarm, clients, 240_000);
    results.push(await eventResult(swarm, `${node2.name} stopped (SIGTERM, 1012 to its clients): they move to the restarted ${node1.name}`, onNode2, termAt, e2.live));
    await waitForExit(node2.pid, 15_000);
  }

  // 4. Stop sending, let everything arrive, and count what is missing.
  sending = false;
  await sender;
  await settle(1_000);
  const heads = roomHeads(cluster.base, rooms);
  const deadline = performance.now() + 30_000;
  let final = await swarm.collect("storm", undefined, heads);
  while (final.behindHead > 0 && performance.now() < deadline) {
    await settle(500);
    final = await swarm.collect("storm", undefined, heads);
  }
  const totalHead = Object.values(heads).reduce((a, b) => a + b, 0);
  let probeMissing = 0;
  for (const p of options.quick ? [] : probes) {
    for (const room of p.rooms) {
      const expected = heads[room]! - Number(p.first.get(room) ?? 0n);
      probeMissing += Math.max(0, expected - (p.counts.get(room) ?? 0));
    }
  }
  tally.gaps += final.gaps;
  tally.duplicates += final.duplicates;
  const missed = final.behindHead + tally.gaps;

  const rows: Row[] = results.map((r) => ({
    event: r.event,
    affected: num(r.affected),
    allLive: r.notLive > 0 ? `not all: ${r.notLive} never came back` : `${num(r.allLiveMs / 1000)} s`,
    reconnects: num(r.reconnects),
    failed: num(r.failedAttempts),
    errors: r.errors.size ? [...r.errors].map(([k, v]) => `${k} ×${v}`).join(", ") : "0",
  }));
  const notes = [
    `Messages: ${num(sent)} sent during the run (${rate}/s, SendMessage to the message service as the rooms' owner; ${sendErrors} failed${firstSendError ? `, first: ${firstSendError.slice(0, 200)}` : ""}); PostgreSQL heads of the ${roomCount} rooms sum to ${num(totalHead)}.`,
    `Messages missed: ${missed} (${final.behindHead} behind the room heads over all ${num(final.sockets)} clients after the run, ${tally.gaps} gaps in seq), ${tally.duplicates} duplicates dropped by seq (replays overlapping live delivery; a client drops them). LiveClient probes (@parley/client, ${PROBES} on node 1, ${probes.reduce((a, p) => a + p.rooms.length, 0)} rooms): ${options.quick ? `${probeMissing} missed (quick mode does not restart node 1: they stay disconnected, so this counts what they missed after the kill)` : `${probeMissing} missed; back live ${Number.isFinite(probeDowntime) ? `${num(probeDowntime)} s after node 1 was started again` : "NOT back"}`}.`,
    ...(options.quick
      ? ["Quick mode: the storm and the kill of node 1 only (no restart, no graceful stop)."]
      : [`Node 1 restart: \`node --import tsx edge/src/socket/main.ts\` with node 1's environment and port, started once every client had failed over; healthy (GET /healthz) ${num(restartMs / 1000)} s after the start command.`]),
  ];
  if (missed > 0 || probeMissing > 0) notes.push(`ERRORS: ${missed + probeMissing} messages missed`);
  const problems = problemSummary(cluster);
  if (problems) notes.push(problems);
  return {
    columns: [
      { key: "event", title: "event" },
      { key: "affected", title: "clients affected", align: "right" },
      { key: "allLive", title: "until all subscribed", align: "right" },
      { key: "reconnects", title: "reconnections", align: "right" },
      { key: "failed", title: "failed attempts", align: "right" },
      { key: "errors", title: "errors" },
    ],
    rows,
    settings: [
      `Parley: ${cluster.description}, LOG_LEVEL=info, shared with the other ws-* scenarios and stopped after this one. ${num(clients)} clients on the minimal WebSocket client (parley.v1.proto) spread over 2 load-generator processes, client i is user i mod ${members.length} in room i mod ${roomCount} (one room each), half starting on each node, with the node list as their only configuration (a reconnect goes to the next node).`,
      `Clients reconnect like @parley/client: full jitter over 250 ms × 2^attempt (at most 15 s; after a 1012 at once), then subscribe with afterSeq = the last seq they have; a refused subscription (UNAVAILABLE, DEADLINE_EXCEEDED, ...) is asked again after 0.5-1.5 s. Every client checks seq order (gaps, duplicates). ${PROBES} @parley/client LiveClients on the node that is killed, with its URL only (no failover: they wait for it to come back).`,
      `"Until all subscribed": from the event to the moment the last affected client had its room live again (clocks aligned across the generator processes). Errors: error frames and unexpected close codes seen by the clients (1006 from the killed node and 1012 from the stopping one are expected and not counted); failed attempts: connections refused or dropped before they opened (the node was down or draining).`,
      `Messages keep flowing at ${rate}/s during the whole run. Missed = for every client, the room's head in PostgreSQL (max seq in <db>_message) minus the last seq it received, plus gaps: must be 0. Single run (the events change the cluster); no pinning.`,
    ],
    notes,
  };
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (check()) return true;
    await settle(100);
  }
  return check();
}

/** Polls until every client is live again (or the timeout). */
async function waitAllLive(swarm: Swarm, clients: number, timeoutMs: number): Promise<{ live: number; status: SwarmStatus }> {
  const deadline = performance.now() + timeoutMs;
  // Give the kill a moment to be noticed.
  await settle(300);
  let status = await swarm.status("storm");
  while (status.live < clients && performance.now() < deadline) {
    await settle(100);
    status = await swarm.status("storm");
  }
  return { live: status.live, status };
}

/** Gaps and duplicates seen so far (counts are reset between events), and the reconnection counters at the last event. */
const tally = { gaps: 0, duplicates: 0, reconnects: 0, failedAttempts: 0 };

async function eventResult(swarm: Swarm, event: string, affected: number, startMs: number, live: number): Promise<EventResult> {
  const status = await swarm.status("storm");
  const collected = await swarm.collect("storm");
  tally.gaps += collected.gaps;
  tally.duplicates += collected.duplicates;
  const reconnects = status.reconnects - tally.reconnects;
  const failedAttempts = status.failedAttempts - tally.failedAttempts;
  tally.reconnects = status.reconnects;
  tally.failedAttempts = status.failedAttempts;
  await swarm.reset("storm");
  return {
    event,
    affected,
    allLiveMs: status.lastLiveAtMs - startMs,
    reconnects,
    failedAttempts,
    errors: collected.errors,
    firstErrors: collected.firstErrors,
    notLive: status.sockets - live,
  };
}
