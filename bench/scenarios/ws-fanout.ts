// ws-fanout (S1): how many deliveries per second one socket process fans out, at
// what latency, CPU and memory, for N subscribers in one room and spread over 100
// rooms: Parley's socket node (messages entering through the real send path)
// side by side with a bare uWebSockets.js pub/sub server, a Socket.IO 4 server
// and a plain `ws` server (messages from a publisher client), same generator,
// same run, the targets alternating.
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { num, percent, spreadText } from "../lib/format.js";
import { machineCoresBusy, machineCpuSample } from "../lib/machine.js";
import { withCleanup, type Cleanup, type BenchOptions, type Row, type Scenario, type ScenarioReport } from "../lib/scenario.js";
import { percentileMs, spread } from "../lib/stats.js";
import { pinning, startTargetProcess, type TargetProcess } from "../lib/target-process.js";
import { openLoop, ParleyPublisher, PlainPublisher, ProbeSet, SioPublisher, type Publisher } from "../lib/ws-load.js";
import { acquireCluster, clusterUsers, createRooms, joinRooms, releaseCluster, problemSummary, type BenchUser, type ParleyCluster } from "../lib/ws-parley.js";
import { cpuSnapshot, cpuUsedMs, procRssBytes } from "../lib/ws-proc.js";
import { messageBody, type Dialect, type Endpoint } from "../lib/ws-subscriber.js";
import { Swarm, type Collected } from "../lib/ws-swarm.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ServerFrameSchema } from "@parley/proto/socket/v1/socket_pb";

/**
 * The most subscribers one server process holds here: every process may open at most 20,000
 * files (RLIMIT_NOFILE's hard limit in this container, which cannot raise it), and a server
 * needs a few dozen for itself (listening socket, Redis, gRPC, stdio).
 */
const MOST = 19_800;
const ROOMS = 100;
/** Latency objective: a rate is sustained when p99 stays at or under it with nothing lost. */
const P99_LIMIT_MS = 100;
/** Offered deliveries per second, a factor 2 apart; each target's search moves along it. */
const LADDER = [625, 1_250, 2_500, 5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000];
/** Bulk sockets that timestamp what they receive: one in SAMPLE_EVERY (the others only count). */
const SAMPLE_EVERY = 8;
/** Parley: sends per second per sender socket, under SOCKET_FRAMES_PER_SECOND's 50. */
const SENDS_PER_SOCKET = 40;

type Layout = "one room" | "100 rooms";
type TargetKey = "parley" | "uws" | "sio" | "ws";

interface Target {
  key: TargetKey;
  label: string;
  dialect: Dialect;
  endpoint: Endpoint;
  /** The process whose CPU and memory are "the server's". */
  serverPid: number;
  /** Every process of the target (Parley: all its processes, not PostgreSQL or Redis). */
  allPids(): number[];
  publisher: Publisher;
  probes?: ProbeSet;
  /** Room names: the shared room, and the 100 spread rooms. */
  all: string;
  spread: string[];
  token(i: number): string | undefined;
  rssBefore: number;
}

interface Measurement {
  offered: number;
  deliveriesPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  serverCpuUsPerDelivery: number;
  allCpuUsPerDelivery: number;
  serverCpuShare: number;
  /** Busiest load-generator process (share of a core) and the runner's. */
  generatorMax: number;
  otherCpu: number;
  missing: number;
  extra: number;
  gaps: number;
  duplicates: number;
  errors: number;
  firstErrors: string[];
  maxLagMs: number;
  late: number;
  unacked: number;
  ackP50: number;
}

interface Search {
  step: number;
  lastPass?: number;
  firstFail?: number;
  done: boolean;
  byStep: Map<number, Measurement[]>;
}

export const wsFanout: Scenario = {
  name: "ws-fanout",
  description:
    "WebSocket fan-out: deliveries/s, latency, CPU and memory per connection for N subscribers in one room and over 100 rooms; Parley's socket node (real send path) next to bare uWebSockets.js, Socket.IO 4 and ws",
  run: withCleanup(measure),
};

async function measure(options: BenchOptions, cleanup: Cleanup): Promise<ScenarioReport> {
  const sizes = options.quick ? [1_000] : [1_000, 5_000, 10_000, MOST];
  // 1 KiB bodies at 10,000 subscribers (the one-room layout: over 100 rooms Parley's send path, not the body, sets the pace).
  const bodies = (n: number, layout: Layout) => (!options.quick && n === 10_000 && layout === "one room" ? [100, 1024] : [100]);
  // Runs shorter than --duration: the full sweep (4 sizes × 2 layouts × 4 servers × ~2 rates × 3 runs) must fit in ~12 minutes.
  const runMs = options.quick ? 1_000 : Math.min(2_000, options.durationMs * 0.4);
  const userCount = options.quick ? 10 : 50;
  const pins = options.pin ? pinning(availableParallelism()) : undefined;
  const maxSockets = sizes.at(-1)!;
  // Each generator process holds at most ~16k sockets (of its 20k files), and there are at least two.
  const generators = Math.max(2, Math.ceil((maxSockets * 4) / 16_000));

  options.log("starting the baseline servers, the load generator and Parley");
  const clusterPromise = acquireCluster(options.log, options.quick);
  cleanup.push(async () => releaseCluster(await clusterPromise));
  const start = (name: string, file: string) =>
    startTargetProcess({ name, module: new URL(`../servers/${file}`, import.meta.url), cpus: pins?.servers }).then((server) => {
      cleanup.push(() => server.stop());
      return server;
    });
  const [uws, sio, ws] = await Promise.all([start("uWebSockets.js", "ws-uws.ts"), start("Socket.IO", "ws-socketio.ts"), start("ws", "ws-ws.ts")]);
  const swarm = await Swarm.start({ processes: generators, cpus: pins?.client });
  cleanup.push(() => swarm.stop());
  const cluster = await clusterPromise;
  const socketNode = cluster.sockets[0]!;
  const senderNode = cluster.sockets[1]!;
  if (pins) pinPids([socketNode.pid], pins.servers);

  // Parley's users and rooms, through the REST API: an owner (sender and probes) and a pool of subscribers.
  const users = await clusterUsers(cluster, userCount + 1);
  const [owner, ...members] = users as [BenchUser, ...BenchUser[]];
  const parleyRooms = await createRooms(cluster.edge, owner, ROOMS + 1, `fanout-${Date.now().toString(36)}`);
  const [parleyAll, ...parleySpread] = parleyRooms as [string, ...string[]];
  // Subscriber i is members[i % U] in rooms all and spread[i % 100]: each member joins those it needs.
  const pairs = members.flatMap((user, u) => [parleyAll, ...parleySpread.filter((_, j) => j % members.length === u % members.length || ROOMS % members.length !== 0)].map((roomId) => ({ user, roomId })));
  await joinRooms(cluster.edge, pairs);
  options.log(`Parley: ${users.length} users, ${parleyRooms.length} rooms, ${pairs.length} memberships`);

  const endpointOf = (address: string): Endpoint => {
    const [host, port] = address.split(":");
    return { host: host!, port: Number(port) };
  };
  const baselineRooms = { all: "all", spread: Array.from({ length: ROOMS }, (_, j) => `s${j}`) };
  const targets: Target[] = [
    {
      key: "parley",
      label: "Parley socket node",
      dialect: "parley",
      endpoint: { host: socketNode.host, port: socketNode.port },
      serverPid: socketNode.pid,
      allPids: () => cluster.pids(),
      publisher: await ParleyPublisher.open([{ host: senderNode.host, port: senderNode.port }], owner.token, 2),
      all: parleyAll,
      spread: parleySpread,
      token: (i) => members[i % members.length]!.token,
      rssBefore: procRssBytes(socketNode.pid),
    },
    ...[
      { key: "uws" as const, label: "bare uWebSockets.js", dialect: "plain" as const, server: uws, open: PlainPublisher.open },
      { key: "sio" as const, label: "Socket.IO 4", dialect: "sio" as const, server: sio, open: SioPublisher.open },
      { key: "ws" as const, label: "ws", dialect: "plain" as const, server: ws, open: PlainPublisher.open },
    ].map(
      (t): Target => ({
        key: t.key,
        label: t.label,
        dialect: t.dialect,
        endpoint: endpointOf(t.server.address),
        serverPid: t.server.pid,
        allPids: () => [t.server.pid],
        publisher: undefined as unknown as Publisher,
        ...baselineRooms,
        token: () => undefined,
        rssBefore: procRssBytes(t.server.pid),
      }),
    ),
  ];
  for (const [i, t] of targets.entries()) {
    if (t.key === "parley") continue;
    const server = [uws, sio, ws][i - 1] as TargetProcess;
    t.publisher = t.dialect === "sio" ? await SioPublisher.open(endpointOf(server.address)) : await PlainPublisher.open(endpointOf(server.address));
  }
  cleanup.push(async () => {
    for (const t of targets) t.publisher.close(), t.probes?.close();
  });
  // Probes: three on the minimal client (the shared room and a third of the spread rooms each)
  // and one on the target's own client library (the shared room and 10 spread rooms).
  for (const t of targets) {
    t.probes = await ProbeSet.open({
      dialect: t.dialect,
      endpoint: t.endpoint,
      rooms: [0, 1, 2].map((p) => [t.all, ...t.spread.filter((_, j) => j % 3 === p)]),
      libraryRooms: [t.all, ...t.spread.slice(0, 10)],
      token: t.key === "parley" ? owner.token : undefined,
    });
  }

  const rows: Row[] = [];
  const notes: string[] = [];
  const failures: string[] = [];
  const lastPass = new Map<string, number>();
  let connected = 0;
  const connectTimes = new Map<TargetKey, number>();
  const connectErrors = new Map<TargetKey, number>();
  for (const n of sizes) {
    // Grow every target to n subscribers (the ones connected for smaller n stay).
    const add = n - connected;
    for (const t of targets) {
      const sockets = Array.from({ length: add }, (_, k) => {
        const i = connected + k;
        return { rooms: [t.all, t.spread[i % ROOMS]!], token: t.token(i), sample: i % SAMPLE_EVERY === 0 };
      });
      // Parley's first subscribers create the room channels (and their presence snapshots): gently at first.
      const concurrency = t.key === "parley" ? (connected === 0 ? 50 : 200) : 400;
      const progress = setInterval(() => {
        void swarm.status(t.key).then((st) => options.log(`${t.label}: ${st.live} of ${st.sockets} live (${st.reconnects} reconnections, ${st.failedAttempts} failed attempts)`));
      }, 10_000);
      const result = await swarm
        .connect(t.key, t.dialect, [t.endpoint], sockets, { concurrency, subscribeRetries: 10, reconnect: true, timeoutMs: options.quick ? 60_000 : 600_000 })
        .finally(() => clearInterval(progress));
      connectTimes.set(t.key, (connectTimes.get(t.key) ?? 0) + result.ms);
      const status = await swarm.collect(t.key);
      connectErrors.set(t.key, [...status.errors.values()].reduce((a, b) => a + b, 0));
      options.log(`${t.label}: ${n} subscribers (${add} added in ${num(result.ms / 1000)} s, ${result.failed} failed${status.errors.size ? `; errors while connecting: ${[...status.errors].map(([k, v]) => `${k} ×${v}`).join(", ")}` : ""})`);
      if (result.failed > 0 || result.live < add) throw new Error(`${t.label}: only ${result.live} of ${add} subscribers are live (${status.firstErrors.join("; ")})`);
    }
    connected = n;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const rssPerConnection = new Map(targets.map((t) => [t.key, (procRssBytes(t.serverPid) - t.rssBefore) / n]));

    for (const layout of ["one room", "100 rooms"] as const) {
      for (const size of bodies(n, layout)) {
        const perRoom = layout === "one room" ? n : n / ROOMS;
        const config = `${layout}|${size}`;
        const searches = new Map<TargetKey, Search>();
        for (const t of targets) {
          // First guesses: what the last configuration sustained; Parley's send path, not its fan-out, bounds it over 100 rooms.
          const guess = layout === "one room" ? 10_000 : t.key === "parley" ? LADDER[0]! : 5_000;
          const start = options.quick ? LADDER.indexOf(layout === "one room" ? 5_000 : 625) : (lastPass.get(`${t.key}|${config}`) ?? lastPass.get(`${t.key}|${layout}|100`) ?? LADDER.indexOf(guess));
          searches.set(t.key, { step: start, done: false, byStep: new Map() });
        }
        options.log(`-- ${num(n)} subscribers, ${layout}, ${size} B messages`);
        // Warm-up: one short run per target at its first rate.
        for (const t of targets) await runOnce(t, layout, size, LADDER[searches.get(t.key)!.step]! / perRoom, options.quick ? 500 : Math.min(runMs, 1_000), swarm, n, true);
        // Quick mode: one rate per layout, one run per server (printed, never written).
        const iterations = options.quick ? 1 : 6;
        const runs = options.quick ? 1 : options.runs;
        for (let iteration = 0; iteration < iterations && [...searches.values()].some((s) => !s.done); iteration++) {
          const active = targets.filter((t) => !searches.get(t.key)!.done);
          for (let round = 0; round < runs; round++) {
            for (const t of round % 2 === 0 ? active : [...active].reverse()) {
              const search = searches.get(t.key)!;
              const offered = LADDER[search.step]!;
              const m = await runOnce(t, layout, size, offered / perRoom, runMs, swarm, n, false);
              search.byStep.set(search.step, [...(search.byStep.get(search.step) ?? []), m]);
              options.log(
                `${t.label.padEnd(20)} ${num(offered).padStart(7)} offered: ${num(m.deliveriesPerSecond).padStart(7)} deliveries/s  p50 ${num(m.p50)} p99 ${num(m.p99)} max ${num(m.max)} ms  server ${num(m.serverCpuUsPerDelivery)} µs/delivery (${percent(m.serverCpuShare)})  generator max ${percent(m.generatorMax)}  others ${percent(m.otherCpu)}${m.missing ? `  MISSING ${m.missing}` : ""}${m.errors ? `  errors ${m.errors}` : ""}${m.unacked ? `  unacked ${m.unacked}` : ""}${m.late ? `  late sends ${m.late} (max ${num(m.maxLagMs)} ms)` : ""}`,
              );
            }
          }
          for (const t of active) advance(searches.get(t.key)!, options.quick);
        }
        for (const t of targets) {
          const s = searches.get(t.key)!;
          if (s.lastPass !== undefined) lastPass.set(`${t.key}|${config}`, s.lastPass);
        }
        report(rows, notes, failures, targets, searches, { n, layout, size, perRoom, rssPerConnection });
      }
    }
  }
  notes.push(
    `Frame sizes: a baseline subscriber receives the body alone (100 B or 1 KiB); Parley's subscribers receive a messageCreated frame (parley.v1.proto) carrying the message's id, room, sender, seq, clientMsgId and time with it: ${bodies(10_000, "one room").map((size) => `${num(parleyFrameBytes(size))} B for a ${size} B body`).join(", ")}.`,
    ...(options.quick ? [] : [`Reading the one-room rows: the objective (p99 ≤ ${P99_LIMIT_MS} ms) also bounds how long ONE message may take to reach every subscriber. From 10,000 subscribers in one room that time alone is near 100 ms for every server here (2 cores shared by the server, ${generators} generator processes and the runner), so the knee there says more about this machine than about the servers; none of the four meets it at ${num(MOST)}.`]),
    `Connecting (all sizes, both rooms per socket): ${targets.map((t) => `${t.label} ${num((connectTimes.get(t.key) ?? 0) / 1000)} s${connectErrors.get(t.key) ? ` with ${connectErrors.get(t.key)} refused subscriptions retried` : ""}`).join(", ")}.`,
  );
  const problems = problemSummary(cluster);
  if (problems) notes.push(problems);
  for (const f of failures) notes.push(`ERRORS: ${f}`);

  return {
    columns: [
      { key: "n", title: "subscribers", align: "right" },
      { key: "layout", title: "rooms" },
      { key: "size", title: "body", align: "right" },
      { key: "target", title: "server" },
      { key: "sustained", title: "deliveries/s sustained", align: "right" },
      { key: "knee", title: "knee (offered)", align: "right" },
      { key: "p50", title: "p50 ms", align: "right" },
      { key: "p99", title: "p99 ms", align: "right" },
      { key: "max", title: "max ms", align: "right" },
      { key: "cpu", title: "server CPU µs/delivery", align: "right" },
      { key: "rss", title: "RSS/conn KiB", align: "right" },
      { key: "ratio", title: "Parley ÷ this: deliveries/s, CPU/delivery, RSS/conn", align: "right" },
      { key: "generator", title: "generator busiest", align: "right" },
      { key: "others", title: "others' CPU", align: "right" },
      { key: "lost", title: "lost", align: "right" },
    ],
    rows,
    settings: [
      `Subscribers: ${sizes.map(num).join(", ")} per server (grown in that order; ${num(MOST)} is the most one process holds here: RLIMIT_NOFILE's hard limit is 20,000 files per process and this container cannot raise it). Every subscriber socket is in two rooms: the shared room ("one room": a message goes to all N) and one of 100 rooms ("100 rooms": a message goes to N/100); messages go to one layout at a time. Bodies: ${options.quick ? "100 B" : "100 B, and 1 KiB at 10,000 in one room"}, stamped with their due time.`,
      `${options.quick ? "Quick mode: one rate per layout (5,000 deliveries/s in one room, 625 over 100 rooms), one run per server; the full run searches instead. " : ""}Rates: for each server a search along offered deliveries/s of ${LADDER.map(num).join(", ")} (messages/s = deliveries/s ÷ subscribers per room): up after a sustained rate, down after a failed one, until the knee is bracketed. A rate is sustained when the median p99 of its runs is ≤ ${P99_LIMIT_MS} ms, no delivery is missing and every Parley send is acknowledged. ${options.runs} runs of ${runMs / 1000} s per rate and server, the servers alternating within every round (forward, then backward); cells are the median (min–max) of those runs at the highest sustained rate, after one ${Math.min(runMs, 1000) / 1000} s warm-up run per server and configuration.`,
      `Sending: open loop (message k is due at start + k/rate, whatever happened before; latency counts from the due time, so a late sender shows up as latency; sends more than 10 ms late are reported). Parley's messages take the real send path: \`send\` frames (parley.v1.json) from sockets of the rooms' owner on socket node 2, at most ${SENDS_PER_SOCKET} frames/s per socket (SOCKET_FRAMES_PER_SECOND is 50), → message service → PostgreSQL → Redis → socket node 1, which holds every subscriber. The baselines' messages come from one publisher client sending "publish" frames to the server, which fans them out (uWS topics, Socket.IO rooms, a loop over a Set for ws).`,
      `Subscribers: bulk sockets on a minimal RFC 6455 client (bench/lib/ws-wire.ts: one shared read buffer, in-place frame parsing, zero mask) spread over ${generators} load-generator processes; they count every message per socket and room (Parley: by seq, catching gaps and duplicates; parley.v1.proto), one in ${SAMPLE_EVERY} also timestamps them. Probes: 3 minimal-client sockets per server that number and timestamp every message, plus one on the server's own client library (@parley/client LiveClient over ws with JSON; socket.io-client 4.8.4; the ws package). Latency percentiles merge the sampled bulk sockets and the probes (clocks of the generator processes aligned over IPC). "lost" counts missing, duplicated and out-of-order deliveries and unacknowledged sends over every run.`,
      `CPU: /proc time of the server process per delivery (Parley: socket node 1 only; all Parley processes in the notes), "generator busiest" the busiest load-generator process's share of a core (near 100%: the generator, not the server, limits), "others'" what every other process of the machine used (from /proc/stat, including PostgreSQL, Redis and the other Parley processes). RSS/conn: the server's resident memory growth after connecting, divided by the subscribers (includes garbage not yet collected; a growth under 4 MiB in all is within RSS's own noise and shown as an upper bound, with no ratio). Pinning: ${pins ? `servers under test (baselines, Parley's socket node 1) on core ${pins.servers}, load generator processes and the runner on core ${pins.client} (taskset); Parley's other processes, PostgreSQL and Redis unpinned` : "none (the OS schedules every process over the 2 cores)"}.`,
      `Parley: ${cluster.description}, LOG_LEVEL=info, ${users.length} users registered through the REST API (subscriber i is user i mod ${members.length}: many sockets per user, as many devices per person would be), rooms created and joined through it.`,
    ],
    notes,
  };
}

function pinPids(pids: number[], cpus: string): void {
  for (const pid of pids) {
    try {
      // Every thread of the process.
      execFileSync("taskset", ["-a", "-pc", cpus, String(pid)], { stdio: "ignore" });
    } catch {
      // gone
    }
  }
}

/** Sustained: p99 within the objective, nothing lost, every send acknowledged. */
function passed(runs: Measurement[]): boolean {
  const p99 = spread(runs.map((m) => m.p99)).median;
  return p99 <= P99_LIMIT_MS && runs.every((m) => m.missing === 0 && m.unacked === 0 && m.gaps === 0 && m.duplicates === 0 && m.errors === 0);
}

function advance(search: Search, quickMode: boolean): void {
  const ok = passed(search.byStep.get(search.step)!);
  if (quickMode) {
    if (ok) search.lastPass = search.step;
    else search.firstFail = search.step;
    search.done = true;
    return;
  }
  if (ok) {
    search.lastPass = search.step;
    if (search.firstFail === search.step + 1 || search.step + 1 >= LADDER.length) search.done = true;
    else search.step++;
  } else {
    search.firstFail = search.step;
    if (search.lastPass === search.step - 1 || search.step === 0) search.done = true;
    else search.step--;
  }
}

async function runOnce(t: Target, layout: Layout, size: number, messagesPerSecond: number, durationMs: number, swarm: Swarm, n: number, warmup: boolean): Promise<Measurement> {
  const rooms = layout === "one room" ? [t.all] : t.spread;
  const publisher = t.publisher;
  if (publisher instanceof ParleyPublisher) await publisher.ensure(Math.min(400, Math.max(2, Math.ceil(messagesPerSecond / SENDS_PER_SOCKET))));
  await swarm.reset(t.key);
  t.probes!.reset();
  publisher.reset();
  const pids = [...new Set([t.serverPid, ...t.allPids(), ...swarm.pids, process.pid])];
  const before = cpuSnapshot(pids);
  const machineBefore = machineCpuSample();
  const schedule = await openLoop({
    rate: messagesPerSecond,
    durationMs,
    send: (k, dueUs) => {
      const room = rooms[k % rooms.length]!;
      publisher.publish(room, messageBody(size, dueUs, k, room), dueUs);
    },
    flush: () => publisher.flush(),
  });
  const sentAt = performance.now();
  const drainMs = Math.max(2_000, durationMs);
  // Parley: the rooms' messages are known once acknowledged.
  while (publisher.outstanding() > 0 && performance.now() - sentAt < drainMs) await new Promise((resolve) => setTimeout(resolve, 5));
  const unacked = publisher instanceof ParleyPublisher ? publisher.abandon() : 0;
  const expected = Object.fromEntries(publisher.accepted);
  let complete = await swarm.awaitDeliveries(t.key, expected, drainMs);
  await t.probes!.settle(publisher.accepted, complete ? 2_000 : 500);
  const deliveredAt = performance.now();
  if (!complete) complete = await quiesce(swarm, t.key);
  const after = cpuSnapshot(pids);
  const machineAfter = machineCpuSample();
  const bulk = await swarm.collect(t.key, expected);
  const probe = t.probes!.check(publisher.accepted);
  const latency = bulk.latency;
  latency.add(t.probes!.stats.latency);
  const deliveries = bulk.received + probe.received;
  const elapsedMs = schedule.elapsedMs + (deliveredAt - sentAt);
  const wallMs = after.wallMs - before.wallMs;
  const serverMs = cpuUsedMs(before, after, [t.serverPid]);
  const allMs = cpuUsedMs(before, after, t.allPids());
  const generatorShares = [...swarm.pids, process.pid].map((pid) => cpuUsedMs(before, after, [pid]) / wallMs);
  const errorCount = sumErrors(bulk) + sumMap(t.probes!.stats.errors) + sumMap(publisher.errors.errors);
  const m: Measurement = {
    offered: messagesPerSecond * (layout === "one room" ? n : n / ROOMS),
    deliveriesPerSecond: (deliveries / elapsedMs) * 1000,
    p50: percentileMs(latency, 50),
    p99: percentileMs(latency, 99),
    max: latency.maxValue / 1000,
    serverCpuUsPerDelivery: (serverMs * 1000) / Math.max(1, deliveries),
    allCpuUsPerDelivery: (allMs * 1000) / Math.max(1, deliveries),
    serverCpuShare: serverMs / wallMs,
    generatorMax: Math.max(...generatorShares),
    otherCpu: Math.max(0, machineCoresBusy(machineBefore, machineAfter) - cpuUsedMs(before, after, pids) / wallMs),
    missing: bulk.missing + probe.missing,
    extra: bulk.extra + probe.extra,
    gaps: bulk.gaps + probe.gaps,
    duplicates: bulk.duplicates + probe.duplicates,
    errors: errorCount,
    firstErrors: [...bulk.firstErrors, ...t.probes!.stats.firstErrors, ...publisher.errors.firstErrors].slice(0, 3),
    maxLagMs: schedule.maxLagMs,
    late: schedule.late,
    unacked,
    ackP50: percentileMs(publisher.ackLatency, 50),
  };
  void warmup;
  return m;
}

/** After a timed-out drain: waits until deliveries stop coming (a backlog must not leak into the next run). */
async function quiesce(swarm: Swarm, set: string): Promise<boolean> {
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const { received } = await swarm.collect(set);
    if (received === last) return false;
    last = received;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

/** RSS moves by a few MiB on its own (heap growth, collection): a smaller growth says only "less than this". */
const RSS_NOISE_BYTES = 4 * 1024 * 1024;
const measurableRss = (n: number, perConnection: number) => (perConnection * n >= RSS_NOISE_BYTES ? perConnection : Number.NaN);

const sumMap = (map: Map<string, number>) => [...map.values()].reduce((a, b) => a + b, 0);
const sumErrors = (c: Collected) => sumMap(c.errors);

function report(
  rows: Row[],
  notes: string[],
  failures: string[],
  targets: Target[],
  searches: Map<TargetKey, Search>,
  facts: { n: number; layout: Layout; size: number; perRoom: number; rssPerConnection: Map<TargetKey, number> },
): void {
  const at = (key: TargetKey) => {
    const s = searches.get(key)!;
    return s.lastPass === undefined ? undefined : s.byStep.get(s.lastPass)!;
  };
  const med = (runs: Measurement[] | undefined, value: (m: Measurement) => number) => (runs ? spread(runs.map(value)).median : Number.NaN);
  const parley = at("parley");
  const sweep: string[] = [];
  for (const t of targets) {
    const s = searches.get(t.key)!;
    const runs = at(t.key);
    const all = [...s.byStep.values()].flat();
    const lost = all.reduce((sum, m) => sum + m.missing + m.gaps + m.duplicates + m.unacked, 0);
    const errors = all.reduce((sum, m) => sum + m.errors, 0);
    const ratio =
      t.key === "parley"
        ? ""
        : [
            med(parley, (m) => m.deliveriesPerSecond) / med(runs, (m) => m.deliveriesPerSecond),
            med(parley, (m) => m.serverCpuUsPerDelivery) / med(runs, (m) => m.serverCpuUsPerDelivery),
            measurableRss(facts.n, facts.rssPerConnection.get("parley")!) / measurableRss(facts.n, facts.rssPerConnection.get(t.key)!),
          ]
            .map((v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "–"))
            .join(", ");
    rows.push({
      n: num(facts.n),
      layout: facts.layout,
      size: `${facts.size} B`,
      target: t.label,
      sustained: runs ? spreadText(spread(runs.map((m) => m.deliveriesPerSecond))) : `< ${num(LADDER[0]!)}`,
      knee: s.firstFail === undefined ? `> ${num(LADDER[s.lastPass ?? 0]!)}` : num(LADDER[s.firstFail]!),
      p50: runs ? spreadText(spread(runs.map((m) => m.p50))) : "–",
      p99: runs ? spreadText(spread(runs.map((m) => m.p99))) : "–",
      max: runs ? num(med(runs, (m) => m.max)) : "–",
      cpu: runs ? spreadText(spread(runs.map((m) => m.serverCpuUsPerDelivery))) : "–",
      rss: Number.isFinite(measurableRss(facts.n, facts.rssPerConnection.get(t.key)!)) ? num(facts.rssPerConnection.get(t.key)! / 1024) : `< ${num(RSS_NOISE_BYTES / facts.n / 1024)}`,
      ratio,
      generator: runs ? percent(med(runs, (m) => m.generatorMax)) : "–",
      others: runs ? percent(med(runs, (m) => m.otherCpu)) : "–",
      lost: `${lost}${errors ? ` (+${errors} err)` : ""}`,
    });
    const steps = [...s.byStep.entries()]
      .sort(([a], [b]) => a - b)
      .map(([step, ms]) => `${num(LADDER[step]!)} ${passed(ms) ? "✓" : "✗"} p99 ${num(med(ms, (m) => m.p99))} ms${ms.some((m) => m.missing) ? ` missing ${ms.reduce((a, m) => a + m.missing, 0)}` : ""}${ms.some((m) => m.unacked) ? ` unacked ${ms.reduce((a, m) => a + m.unacked, 0)}` : ""}${t.key === "parley" ? ` ack p50 ${num(med(ms, (m) => m.ackP50))} ms` : ""}`);
    sweep.push(`${t.label}: ${steps.join("; ")}`);
    if (t.key === "parley" && runs) {
      sweep.push(`(all Parley processes: ${num(med(runs, (m) => m.allCpuUsPerDelivery))} µs/delivery at the sustained rate)`);
    }
    const bad = all.find((m) => m.errors > 0 || m.extra > 0);
    if (bad) failures.push(`${t.label}, ${num(facts.n)} subscribers, ${facts.layout}, ${facts.size} B: ${bad.errors} errors, ${bad.extra} unexpected deliveries; first: ${bad.firstErrors.join(" | ")}`);
  }
  notes.push(`${num(facts.n)} subscribers, ${facts.layout} (${num(facts.perRoom)} per room), ${facts.size} B — sweep, offered deliveries/s: ${sweep.join(" — ")}.`);
}

/** Bytes of the proto frame a Parley subscriber receives for a message with a `size`-byte body. */
function parleyFrameBytes(size: number): number {
  const uuid = "0193a5c4-7e1f-7cc2-9d3b-5a8e2f6b1c40";
  const frame = create(ServerFrameSchema, {
    frame: {
      case: "messageCreated",
      value: { message: { id: uuid, roomId: uuid, seq: 123_456n, senderId: uuid, body: "x".repeat(size), clientMsgId: uuid, createTime: timestampFromMs(Date.now()) } },
    },
  });
  return toBinary(ServerFrameSchema, frame).byteLength;
}
