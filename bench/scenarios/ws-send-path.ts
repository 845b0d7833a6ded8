// ws-send-path (S2): Parley's whole send path, client to clients: `send` frames over
// the socket → socket node → message service → PostgreSQL → broker → socket
// nodes → every subscriber of the room; sends/s sustained, send→ack and
// send→receive latency, CPU per send by process, and a check that every
// message stored in PostgreSQL reached every subscriber, in the all-in-one mode
// and in the distributed mode (2 socket nodes, 2 message replicas, Redis), side by side.
import { num, percent, spreadText } from "../lib/format.js";
import { machineCoresBusy, machineCpuSample } from "../lib/machine.js";
import { withCleanup, type Cleanup, type BenchOptions, type Row, type Scenario, type ScenarioReport } from "../lib/scenario.js";
import { percentileMs, spread } from "../lib/stats.js";
import { startTargetProcess, type TargetProcess } from "../lib/target-process.js";
import { openLoop, ParleyPublisher } from "../lib/ws-load.js";
import {
  acquireCluster,
  clusterUsers,
  countMessagesIn,
  createRooms,
  databaseUrl,
  freshNames,
  joinRooms,
  ownData,
  PARLEY_BENCH_ENV,
  registerUsers,
  releaseCluster, problemSummary,
  roomHeads,
  type BenchUser,
} from "../lib/ws-parley.js";
import { cpuSnapshot, cpuUsedMs, serverTreeCpuMs } from "../lib/ws-proc.js";
import { messageBody, type Endpoint } from "../lib/ws-subscriber.js";
import { Swarm } from "../lib/ws-swarm.js";

const P99_LIMIT_MS = 100;
/** Offered sends per second, a factor 2 apart. */
const LADDER = [12.5, 25, 50, 100, 200, 400, 800];
const SENDS_PER_SOCKET = 40;

interface Mode {
  key: "aio" | "dist";
  label: string;
  sockets: Endpoint[];
  /** Process groups whose CPU per send is reported. */
  groups: { name: string; pids: () => number[] }[];
  allPids: () => number[];
  base: string;
  owner: BenchUser;
  members: BenchUser[];
  rooms: string[];
  publisher: ParleyPublisher;
  /** Acknowledged over every run (warm-up included), per room. */
  ackedTotal: Map<string, number>;
  refusedTotal: number;
}

interface Measurement {
  offered: number;
  ackedPerSecond: number;
  ackP50: number;
  ackP99: number;
  p50: number;
  p99: number;
  max: number;
  cpuMsPerSend: Map<string, number>;
  databaseMsPerSend: number;
  otherCpu: number;
  generatorMax: number;
  missing: number;
  gaps: number;
  duplicates: number;
  unacked: number;
  refused: number;
  errors: number;
  firstErrors: string[];
  late: number;
  maxLagMs: number;
}

export const wsSendPath: Scenario = {
  name: "ws-send-path",
  description:
    "Parley's send path over the socket (socket node → message service → PostgreSQL → broker → socket nodes → subscribers): sends/s sustained, send→receive latency, CPU per send, persisted = delivered; all-in-one and distributed side by side",
  run: withCleanup(measure),
};

async function measure(options: BenchOptions, cleanup: Cleanup): Promise<ScenarioReport> {
  const roomCount = options.quick ? 5 : 10;
  const perRoom = options.quick ? 6 : 10;
  const runMs = options.quick ? 1_000 : options.durationMs / 2;
  const userCount = perRoom + 1;

  // Quick mode: only the light topology shared with the other ws-* scenarios (startCluster and a
  // separate all-in-one would not fit in --quick's time).
  options.log(options.quick ? "starting Parley (quick topology)" : "starting Parley all-in-one (PostgreSQL, in-memory broker) and the distributed mode");
  const clusterPromise = acquireCluster(options.log, options.quick);
  cleanup.push(async () => releaseCluster(await clusterPromise));
  let aio: TargetProcess | undefined;
  const aioNames = freshNames();
  if (!options.quick) {
    const removeAio = ownData(aioNames.base, aioNames.prefix);
    aio = await startTargetProcess({
      name: "Parley all-in-one",
      module: new URL("../servers/ws-parley-all-in-one.ts", import.meta.url),
      env: { ...PARLEY_BENCH_ENV, DATABASE_URL: databaseUrl(aioNames.base) },
      startTimeoutMs: 120_000,
    });
    const started = aio;
    cleanup.push(async () => {
      await started.stop();
      removeAio();
    });
  }
  const swarm = await Swarm.start({ processes: 2 });
  cleanup.push(() => swarm.stop());
  const cluster = await clusterPromise;

  const endpoint = (address: string): Endpoint => ({ host: address.split(":")[0]!, port: Number(address.split(":")[1]) });
  const setup = async (edge: string, users: BenchUser[]) => {
    const [owner, ...members] = users as [BenchUser, ...BenchUser[]];
    const rooms = await createRooms(edge, owner, roomCount, `send-${Date.now().toString(36)}`);
    await joinRooms(edge, members.flatMap((user) => rooms.map((roomId) => ({ user, roomId }))));
    return { owner, members, rooms };
  };
  const distSockets = cluster.sockets.map((s) => ({ host: s.host, port: s.port }));
  const modes: Mode[] = [];
  if (aio) {
    const aioAddresses = aio.info.addresses as Record<string, string>;
    const aioSetup = await registerUsers(aioAddresses.edge!, userCount, "s2").then((users) => setup(aioAddresses.edge!, users));
    const pid = aio.pid;
    modes.push({
      key: "aio",
      label: "all-in-one",
      sockets: [endpoint(aioAddresses.socket!)],
      groups: [{ name: "Parley process", pids: () => [pid] }],
      allPids: () => [pid],
      base: aioNames.base,
      ...aioSetup,
      publisher: await ParleyPublisher.open([endpoint(aioAddresses.socket!)], aioSetup.owner.token, 2),
      ackedTotal: new Map(),
      refusedTotal: 0,
    });
  }
  const distSetup = await clusterUsers(cluster, userCount).then((users) => setup(cluster.edge, users));
  modes.push({
    key: "dist",
    label: cluster.topology === "distributed" ? "distributed" : "quick topology",
    sockets: distSockets,
    groups: cluster.groups().map((g) => ({ name: g.name, pids: () => cluster.groups().find((h) => h.name === g.name)!.pids })),
    allPids: () => cluster.pids(),
    base: cluster.base,
    ...distSetup,
    publisher: await ParleyPublisher.open(distSockets, distSetup.owner.token, 2),
    ackedTotal: new Map(),
    refusedTotal: 0,
  });
  cleanup.push(async () => {
    for (const mode of modes) mode.publisher.close();
  });
  const connectProblems: string[] = [];
  // Receivers: `perRoom` members in every room, alternating over the mode's socket nodes
  // (distributed: each room has subscribers on both nodes, so Redis carries every message).
  for (const mode of modes) {
    const sockets = mode.rooms.flatMap((room) => mode.members.slice(0, perRoom).map((user, i) => ({ rooms: [room], token: user.token, sample: true, endpoint: i % mode.sockets.length })));
    // Receivers reconnect and resume (afterSeq) like @parley/client when a connection drops.
    const result = await swarm.connect(mode.key, "parley", mode.sockets, sockets, { concurrency: 20, reconnect: true, subscribeRetries: 10, timeoutMs: 120_000 });
    const status = await swarm.collect(mode.key);
    const reconnects = await swarm.status(mode.key);
    if (status.errors.size > 0 || reconnects.reconnects > 0) {
      connectProblems.push(`${mode.label}: while ${sockets.length} receivers connected, ${[...status.errors].map(([k, v]) => `${k} ×${v}`).join(", ")} (${reconnects.reconnects} reconnections; first: ${status.firstErrors[0] ?? "–"})`);
    }
    if (result.live !== sockets.length) throw new Error(`${mode.label}: ${result.live} of ${sockets.length} receivers live (${status.firstErrors.join(" | ")})`);
  }
  options.log(`${roomCount} rooms × ${perRoom} receivers per mode; senders: sockets of the rooms' owner`);

  const searches = new Map(modes.map((m) => [m.key, { step: LADDER.indexOf(options.quick ? 25 : 50), done: false, byStep: new Map<number, Measurement[]>(), lastPass: undefined as number | undefined, firstFail: undefined as number | undefined }]));
  for (const mode of modes) await runOnce(mode, LADDER[searches.get(mode.key)!.step]!, Math.min(runMs, 1_000), swarm);
  const iterations = options.quick ? 1 : 6;
  for (let iteration = 0; iteration < iterations && [...searches.values()].some((s) => !s.done); iteration++) {
    const active = modes.filter((m) => !searches.get(m.key)!.done);
    for (let round = 0; round < options.runs; round++) {
      for (const mode of round % 2 === 0 ? active : [...active].reverse()) {
        const search = searches.get(mode.key)!;
        const m = await runOnce(mode, LADDER[search.step]!, runMs, swarm);
        search.byStep.set(search.step, [...(search.byStep.get(search.step) ?? []), m]);
        options.log(
          `${mode.label.padEnd(12)} ${num(m.offered).padStart(5)} sends/s offered: ${num(m.ackedPerSecond).padStart(5)} acked/s  ack p50 ${num(m.ackP50)} p99 ${num(m.ackP99)} ms  send→receive p50 ${num(m.p50)} p99 ${num(m.p99)} max ${num(m.max)} ms  CPU/send ${[...m.cpuMsPerSend].map(([k, v]) => `${k} ${num(v)}`).join(", ")} ms, PostgreSQL+Redis ${num(m.databaseMsPerSend)} ms  others ${percent(m.otherCpu)}${m.missing ? `  MISSING ${m.missing}` : ""}${m.unacked ? `  unacked ${m.unacked}` : ""}${m.refused ? `  refused ${m.refused}` : ""}${m.errors ? `  errors ${m.errors}` : ""}`,
        );
      }
    }
    for (const mode of active) {
      const search = searches.get(mode.key)!;
      const ok = passed(search.byStep.get(search.step)!);
      if (options.quick) search.done = true;
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
  }

  // Persisted = delivered: PostgreSQL's rows for these rooms, what was acknowledged, and every
  // receiver's last seq against each room's head (seqs are gapless: equal heads and no gaps mean
  // every stored message reached every receiver).
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const mode of modes) {
    const search = searches.get(mode.key)!;
    const persisted = countMessagesIn(mode.base, mode.rooms);
    const heads = roomHeads(mode.base, mode.rooms);
    const final = await swarm.collect(mode.key, undefined, heads);
    const acked = [...mode.ackedTotal.values()].reduce((a, b) => a + b, 0);
    const delivered = Object.values(heads).reduce((a, b) => a + b, 0);
    const consistent = final.behindHead === 0 && final.gaps === 0 && final.duplicates === 0 && delivered === persisted;
    for (const [step, runs] of [...search.byStep.entries()].sort(([a], [b]) => a - b)) {
      const med = (value: (m: Measurement) => number) => spreadText(spread(runs.map(value)));
      const groups = [...runs[0]!.cpuMsPerSend.keys()];
      rows.push({
        mode: mode.label,
        offered: num(LADDER[step]!),
        acked: med((m) => m.ackedPerSecond),
        sustained: passed(runs) ? "yes" : "no",
        ack: `${num(spread(runs.map((m) => m.ackP50)).median)} / ${num(spread(runs.map((m) => m.ackP99)).median)}`,
        p50: med((m) => m.p50),
        p99: med((m) => m.p99),
        max: num(spread(runs.map((m) => m.max)).median),
        cpu: groups.map((g) => `${g} ${num(spread(runs.map((m) => m.cpuMsPerSend.get(g)!)).median)}`).join(", "),
        database: num(spread(runs.map((m) => m.databaseMsPerSend)).median),
        others: percent(spread(runs.map((m) => m.otherCpu)).median),
        lost: `${runs.reduce((a, m) => a + m.missing + m.gaps + m.duplicates + m.unacked, 0)}${runs.some((m) => m.errors || m.refused) ? ` (+${runs.reduce((a, m) => a + m.errors + m.refused, 0)} err)` : ""}`,
      });
    }
    const tried = [...search.byStep.keys()];
    const sustained = search.lastPass === undefined ? (tried.length === 1 && search.step !== 0 ? `not at ${num(LADDER[tried[0]!]!)} sends/s, the only rate tried${options.quick ? " in quick mode" : ""}` : `below ${LADDER[0]} sends/s`) : `${num(LADDER[search.lastPass]!)} sends/s${search.firstFail === undefined ? " (the highest rate tried)" : ` (${num(LADDER[search.firstFail]!)} was not)`}`;
    notes.push(
      `${mode.label}: sustained ${sustained}. Persisted = delivered: ${num(persisted)} messages in PostgreSQL (\`select count(*) from messages\` in ${mode.base}_message, these rooms), ${num(acked)} acknowledged sends${mode.refusedTotal ? ` and ${mode.refusedTotal} refused` : ""}, room heads sum to ${num(delivered)}; every one of the ${final.sockets} receivers ${final.behindHead === 0 ? "has every room's last seq" : `is behind its room's head by ${final.behindHead} messages in total`} with ${final.gaps} gaps and ${final.duplicates} duplicates: ${consistent ? "consistent" : "INCONSISTENT"}.`,
    );
    if (!consistent) notes.push(`ERRORS: ${mode.label}: persisted and delivered messages differ (see above)`);
    const failedRuns = [...search.byStep.values()].flat().filter((m) => m.errors > 0);
    if (failedRuns.length) notes.push(`${mode.label}: errors in ${failedRuns.length} runs, first: ${failedRuns[0]!.firstErrors.join(" | ")}`);
  }
  for (const problem of connectProblems) notes.push(`Connecting: ${problem}.`);
  const problems = problemSummary(cluster);
  if (problems) notes.push(problems);

  return {
    columns: [
      { key: "mode", title: "mode" },
      { key: "offered", title: "sends/s offered", align: "right" },
      { key: "acked", title: "acked/s", align: "right" },
      { key: "sustained", title: `p99 ≤ ${P99_LIMIT_MS} ms, nothing lost` },
      { key: "ack", title: "send→ack p50 / p99 ms", align: "right" },
      { key: "p50", title: "send→receive p50 ms", align: "right" },
      { key: "p99", title: "send→receive p99 ms", align: "right" },
      { key: "max", title: "max ms", align: "right" },
      { key: "cpu", title: "Parley CPU ms/send" },
      { key: "database", title: "PostgreSQL+Redis CPU ms/send", align: "right" },
      { key: "others", title: "others' CPU", align: "right" },
      { key: "lost", title: "lost", align: "right" },
    ],
    rows,
    settings: [
      options.quick
        ? `Quick mode: one mode, ${cluster.description}; receivers on both socket nodes. LOG_LEVEL=info.`
        : `Modes, side by side (alternating within every round): "all-in-one" is startParley in one child process (every service, the edge and the socket tier; in-memory broker) on its own PostgreSQL database; "distributed" is ${cluster.description}, shared with the other ws-* scenarios of the run. LOG_LEVEL=info.`,
      `Clients: ${roomCount} rooms with ${perRoom} receivers each (members, on a minimal WebSocket client, parley.v1.proto, every message timestamped and its seq checked); in the distributed mode they alternate between the two socket nodes, so every message crosses Redis. Senders: sockets of the rooms' owner (parley.v1.json \`send\` frames, each socket at most ${SENDS_PER_SOCKET} frames/s, spread over the mode's socket nodes), rooms in turn. Open loop: latency counts from the due time.`,
      `Rates: a search along ${LADDER.join(", ")} sends/s per mode${options.quick ? " (quick: one rate)" : ""}: up after a sustained rate, down after a failed one, until the knee is bracketed; sustained means median send→receive p99 ≤ ${P99_LIMIT_MS} ms, every send acknowledged, nothing missing and no error. ${options.runs} runs of ${runMs / 1000} s per rate and mode; cells are median (min–max) over them, after a ${Math.min(runMs, 1000) / 1000} s warm-up run per mode. Acks are awaited up to ${Math.max(3, runMs / 1000)} s after the last send, deliveries up to as long again.`,
      `CPU: /proc time per acknowledged send of each group of Parley processes, and of the whole PostgreSQL and Redis servers (shared with every other user of them on this machine: treat as an upper bound); "others'" is what all other processes used meanwhile. No pinning.`,
    ],
    notes,
  };
}

function passed(runs: Measurement[]): boolean {
  return spread(runs.map((m) => m.p99)).median <= P99_LIMIT_MS && runs.every((m) => m.missing === 0 && m.unacked === 0 && m.refused === 0 && m.errors === 0 && m.gaps === 0 && m.duplicates === 0);
}

async function runOnce(mode: Mode, rate: number, durationMs: number, swarm: Swarm): Promise<Measurement> {
  const publisher = mode.publisher;
  await publisher.ensure(Math.max(2, Math.ceil(rate / SENDS_PER_SOCKET)));
  await swarm.reset(mode.key);
  publisher.reset();
  const pids = [...new Set([...mode.allPids(), ...swarm.pids, process.pid])];
  const before = cpuSnapshot(pids);
  const dbBefore = serverTreeCpuMs("postgres") + serverTreeCpuMs("redis-server");
  const machineBefore = machineCpuSample();
  const schedule = await openLoop({
    rate,
    durationMs,
    send: (k, dueUs) => {
      const room = mode.rooms[k % mode.rooms.length]!;
      publisher.publish(room, messageBody(100, dueUs, k, room), dueUs);
    },
    flush: () => publisher.flush(),
  });
  const sentAt = performance.now();
  const waitMs = Math.max(3_000, durationMs);
  while (publisher.outstanding() > 0 && performance.now() - sentAt < waitMs) await new Promise((resolve) => setTimeout(resolve, 5));
  const ackedAt = performance.now();
  const unacked = publisher.abandon();
  const expected = Object.fromEntries(publisher.accepted);
  for (const [room, n] of publisher.accepted) mode.ackedTotal.set(room, (mode.ackedTotal.get(room) ?? 0) + n);
  const refused = [...publisher.errors.errors.values()].reduce((a, b) => a + b, 0);
  mode.refusedTotal += refused;
  await swarm.awaitDeliveries(mode.key, expected, waitMs);
  const after = cpuSnapshot(pids);
  const dbAfter = serverTreeCpuMs("postgres") + serverTreeCpuMs("redis-server");
  const machineAfter = machineCpuSample();
  const collected = await swarm.collect(mode.key, expected);
  const acked = [...publisher.accepted.values()].reduce((a, b) => a + b, 0);
  const wallMs = after.wallMs - before.wallMs;
  const perSend = (ms: number) => ms / Math.max(1, acked);
  return {
    offered: rate,
    ackedPerSecond: (acked / (schedule.elapsedMs + (ackedAt - sentAt))) * 1000,
    ackP50: percentileMs(publisher.ackLatency, 50),
    ackP99: percentileMs(publisher.ackLatency, 99),
    p50: percentileMs(collected.latency, 50),
    p99: percentileMs(collected.latency, 99),
    max: collected.latency.maxValue / 1000,
    cpuMsPerSend: new Map(mode.groups.map((g) => [g.name, perSend(cpuUsedMs(before, after, g.pids()))])),
    databaseMsPerSend: perSend(dbAfter - dbBefore),
    otherCpu: Math.max(0, machineCoresBusy(machineBefore, machineAfter) - cpuUsedMs(before, after, pids) / wallMs - (dbAfter - dbBefore) / wallMs),
    generatorMax: Math.max(...[...swarm.pids, process.pid].map((pid) => cpuUsedMs(before, after, [pid]) / wallMs)),
    missing: collected.missing,
    gaps: collected.gaps,
    duplicates: collected.duplicates,
    unacked,
    refused,
    errors: [...collected.errors.values()].reduce((a, b) => a + b, 0),
    firstErrors: [...publisher.errors.firstErrors, ...collected.firstErrors].slice(0, 3),
    late: schedule.late,
    maxLagMs: schedule.maxLagMs,
  };
}
