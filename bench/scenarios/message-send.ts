// message-send: messages persisted per second through the message service's
// SendMessage on PostgreSQL, 1, 8 and 64 senders, into one room and spread over
// one room per sender, next to pgbench single-row inserts on the same server and
// database, measured side by side. After every run the rows in the database must
// equal the acknowledged sends.
import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { asUser, createServiceClient } from "@parley/kit";
import { MessageService, SendMessageRequestSchema, SendMessageResponseSchema } from "@parley/proto/message/v1/message_pb";
import { RoomKind, RoomService } from "@parley/proto/room/v1/room_pb";
import { num, percent, spreadText } from "../lib/format.js";
import { closedLoop } from "../lib/load.js";
import { machineCoresBusy, machineCpuSample } from "../lib/machine.js";
import { BytesClient, REDIS_URL, startRoomAndMessage, userMetadata } from "../lib/parley-services.js";
import { findPgbench, pgbenchVersion, runPgbench } from "../lib/pgbench.js";
import {
  commitSettings,
  connect,
  othersOnServer,
  postgresCpuBetween,
  postgresCpuSample,
  postmasterPid,
  serverVersion,
  POSTGRES_URL,
  withBenchDatabases,
} from "../lib/postgres.js";
import type { BenchOptions, Row, Scenario, ScenarioReport } from "../lib/scenario.js";
import { percentileMs, spread } from "../lib/stats.js";
import { benchInternalAuth, cpuBetween, pinning, type TargetProcess } from "../lib/target-process.js";

const CLIENTS = [1, 8, 64];
/** Quick mode (the whole suite in under 5 minutes): one client count, 1 s runs. pgbench needs seconds to open 64 connections. */
const QUICK_CLIENTS = [8];
const BODY = "Hello from the send benchmark: about as long as what people type in a chat.";
const DEADLINE_MS = 10_000;
const SEND_PATH = `/${MessageService.typeName}/${MessageService.method.sendMessage.name}`;

interface Measurement {
  /** Operations acknowledged (sends answered OK, or pgbench's committed transactions) per second. */
  perSecond: number;
  p50: number;
  p99: number;
  acknowledged: number;
  /** Rows the database gained during the run. */
  counted: number;
  errors: number;
  firstError?: unknown;
  /** Shares of one core during the run. */
  messageCpu: number;
  roomCpu: number;
  postgresCpu: number;
  /** The load generator: this process for sends, the pgbench process for pgbench. */
  clientCpu: number;
  otherCpu: number;
  /** CPU time per acknowledged operation, ms. */
  servicePerOp: number;
  postgresPerOp: number;
  clientPerOp: number;
}

interface Target {
  key: string;
  label: string;
  /** Only measured with at least this many clients (one room per sender is one room with one sender). */
  minClients: number;
  measure(clients: number, durationMs: number): Promise<Measurement>;
}

export const messageSend: Scenario = {
  name: "message-send",
  description:
    "Messages persisted/s through gRPC SendMessage (room + message services on PostgreSQL) with 1, 8 and 64 senders, one room and one room per sender, next to pgbench single-row INSERT transactions on the same server",
  run: withBenchDatabases("send", measure),
};

async function measure(
  options: BenchOptions,
  base: string,
  servers: TargetProcess[],
  closers: (() => Promise<void> | void)[],
): Promise<ScenarioReport> {
  const pgbench = findPgbench();
  if (!pgbench) throw new Error("pgbench not found: apt-get install -y postgresql-client (or postgresql-contrib)");
  const clientCounts = options.quick ? QUICK_CLIENTS : CLIENTS;
  // Quick mode (the whole quick suite must stay under 5 minutes): 1 round of 1 s runs.
  const durationMs = options.quick ? Math.min(1000, options.durationMs) : options.durationMs;
  const runs = options.quick ? 1 : options.runs;
  // Quick mode: no warm-up (the first round warms up).
  const warmupMs = options.quick ? 0 : options.warmupMs;
  const maxClients = Math.max(...clientCounts);
  const cpus = options.pin ? pinning(availableParallelism()).servers : undefined;

  options.log(`starting the room and message services on PostgreSQL (${base}_room, ${base}_message)`);
  const { room, message, messageDatabase } = await startRoomAndMessage({ base, logLevel: "info", cpus, started: (s) => servers.push(s) });
  const db = await connect(messageDatabase);
  closers.push(() => db.end().catch(() => {}));
  const postmaster = await postmasterPid(options.log);

  // Senders and rooms, made through the room service's API: one room every sender is in,
  // and one room of its own per sender.
  const senders = Array.from({ length: maxClients }, () => randomUUID());
  const rooms = createServiceClient(RoomService, room.address, { internalAuth: benchInternalAuth });
  const sharedRoom = (await rooms.createRoom({ name: "bench send: one room", topic: "", kind: RoomKind.PUBLIC }, asUser(senders[0]!))).room!.id;
  for (const sender of senders.slice(1)) await rooms.joinRoom({ roomId: sharedRoom }, asUser(sender));
  const ownRooms: string[] = [];
  for (const [i, sender] of senders.entries()) {
    ownRooms.push((await rooms.createRoom({ name: `bench send: room ${i + 1}`, topic: "", kind: RoomKind.PUBLIC }, asUser(sender))).room!.id);
  }
  const serviceRooms = [sharedRoom, ...ownRooms];
  const metadata = await Promise.all(senders.map(userMetadata));
  const encode = (roomId: string) => Buffer.from(toBinary(SendMessageRequestSchema, create(SendMessageRequestSchema, { roomId, body: BODY })));
  const sharedRequest = encode(sharedRoom);
  const ownRequests = ownRooms.map(encode);

  // The pgbench baselines live in the message service's own database: same server, same disk.
  // bench_rows: a uuid key and a room index, like messages (which has three unique indexes).
  await db.query(`create table bench_rows (
    id uuid primary key default gen_random_uuid(),
    room_id uuid not null,
    body text not null,
    created_at timestamptz not null default clock_timestamp()
  )`);
  await db.query(`create index bench_rows_room_id_created_at on bench_rows (room_id, created_at)`);
  const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
  const insertScript = `INSERT INTO bench_rows(room_id, body) VALUES (${literal(sharedRoom)}::uuid, ${literal(BODY)});\n`;
  // The service's own statement (APPEND_SQL of services/message/src/repositories.ts) on its own
  // tables, into a room of its own: what PostgreSQL alone does for a send, without Node.
  const pgbenchRoom = randomUUID();
  const pgbenchSender = randomUUID();
  const appendScript =
    [
      "WITH head AS (INSERT INTO room_heads AS h (room_id, last_seq, last_activity_at)",
      `VALUES (${literal(pgbenchRoom)}::uuid, 1, date_trunc('milliseconds', clock_timestamp()))`,
      "ON CONFLICT (room_id) DO UPDATE SET last_seq = h.last_seq + 1,",
      "last_activity_at = greatest(h.last_activity_at, date_trunc('milliseconds', clock_timestamp()))",
      "RETURNING last_seq, last_activity_at)",
      "INSERT INTO messages (id, room_id, seq, sender_id, body, client_msg_id, reply_to_id, created_at)",
      `SELECT gen_random_uuid(), ${literal(pgbenchRoom)}::uuid, head.last_seq, ${literal(pgbenchSender)}::uuid, ${literal(BODY)}, gen_random_uuid()::text, NULL, head.last_activity_at FROM head;`,
    ].join(" ") + "\n";

  const client = new BytesClient(message.address);
  closers.push(() => client.close());
  // One answer checked before anything is measured.
  const first = fromBinary(SendMessageResponseSchema, await client.call(SEND_PATH, sharedRequest, metadata[0]!, DEADLINE_MS));
  if (first.message?.roomId !== sharedRoom || first.message.seq !== 1n || first.duplicate) throw new Error("SendMessage: unexpected answer");

  const count = async (sql: string, params: unknown[] = []) => Number((await db.query<{ n: string }>(sql, params)).rows[0]!.n);
  const countServiceRows = () => count(`select count(*) as n from messages where room_id = any($1::uuid[])`, [serviceRooms]);

  /**
   * Runs `load` between CPU and row-count samples. `external`: the load generator is another
   * process (pgbench) whose CPU time `load` reports; otherwise it is this process.
   */
  const sampled = async (
    countRows: () => Promise<number>,
    external: boolean,
    load: () => Promise<{ acknowledged: number; errors: number; firstError?: unknown; perSecond: number; p50: number; p99: number; clientCpuMs?: number; wallMs: number }>,
  ): Promise<Measurement> => {
    const rowsBefore = await countRows();
    const [messageBefore, roomBefore] = await Promise.all([message.cpuSample(), room.cpuSample()]);
    const pgBefore = postgresCpuSample(postmaster);
    const machineBefore = machineCpuSample();
    const runnerBefore = process.cpuUsage();
    const result = await load();
    const runnerUsage = process.cpuUsage(runnerBefore);
    const machineAfter = machineCpuSample();
    const pgAfter = postgresCpuSample(postmaster);
    const [messageAfter, roomAfter] = await Promise.all([message.cpuSample(), room.cpuSample()]);
    const rowsAfter = await countRows();
    const messageCpu = cpuBetween(messageBefore, messageAfter);
    const roomCpu = cpuBetween(roomBefore, roomAfter);
    const postgresCpu = postgresCpuBetween(pgBefore, pgAfter);
    const runnerMs = (runnerUsage.user + runnerUsage.system) / 1000;
    const clientMs = external ? (result.clientCpuMs ?? Number.NaN) : runnerMs;
    // Everything of ours: the services, PostgreSQL, this runner and (for pgbench) pgbench.
    const oursMs = (messageCpu + roomCpu + (Number.isFinite(postgresCpu) ? postgresCpu : 0)) * result.wallMs + runnerMs + (external ? clientMs : 0);
    const ops = Math.max(1, result.acknowledged);
    return {
      perSecond: result.perSecond,
      p50: result.p50,
      p99: result.p99,
      acknowledged: result.acknowledged,
      counted: rowsAfter - rowsBefore,
      errors: result.errors,
      firstError: result.firstError,
      messageCpu,
      roomCpu,
      postgresCpu,
      clientCpu: clientMs / result.wallMs,
      otherCpu: Math.max(0, machineCoresBusy(machineBefore, machineAfter) - oursMs / result.wallMs),
      servicePerOp: ((messageCpu + roomCpu) * result.wallMs) / ops,
      postgresPerOp: (postgresCpu * result.wallMs) / ops,
      clientPerOp: clientMs / ops,
    };
  };

  const sendTarget = (key: string, label: string, minClients: number, request: (slot: number) => Buffer): Target => ({
    key,
    label,
    minClients,
    measure: (clients, ms) =>
      sampled(countServiceRows, false, async () => {
        // Each call in flight is one sender (a slot): N senders, each with one send at a time.
        const free = Array.from({ length: clients }, (_, i) => clients - 1 - i);
        const load = await closedLoop({
          concurrency: clients,
          durationMs: ms,
          call: async () => {
            const slot = free.pop()!;
            try {
              return await client.call(SEND_PATH, request(slot), metadata[slot]!, DEADLINE_MS);
            } finally {
              free.push(slot);
            }
          },
        });
        return {
          acknowledged: load.calls,
          errors: load.errors,
          firstError: load.firstError,
          perSecond: (load.calls / load.elapsedMs) * 1000,
          p50: percentileMs(load.latency, 50),
          p99: percentileMs(load.latency, 99),
          wallMs: load.elapsedMs,
        };
      }),
  });

  // pgbench's initial connection time per client count (it counts in -T): learnt from the warm-up, then from each run.
  const connectMs = new Map<number, number>();
  const pgbenchTarget = (key: string, label: string, script: string, countRows: () => Promise<number>): Target => ({
    key,
    label,
    minClients: 1,
    measure: (clients, ms) =>
      sampled(countRows, true, async () => {
        // About 45 ms per connection was seen here (each new backend is a fork).
        const expected = connectMs.get(clients) ?? 50 * clients;
        const result = await runPgbench({ binary: pgbench, database: messageDatabase, script, clients, seconds: ms / 1000, connectAllowanceMs: expected * 1.5 + 300 });
        connectMs.set(clients, result.connectMs);
        return {
          acknowledged: result.transactions,
          errors: result.failed,
          firstError: result.failed ? `${result.failed} failed transactions` : undefined,
          perSecond: result.tps,
          p50: percentileMs(result.latency, 50),
          p99: percentileMs(result.latency, 99),
          clientCpuMs: result.cpuMs,
          wallMs: result.wallMs,
        };
      }),
  });

  const targets: Target[] = [
    sendTarget("one-room", "SendMessage, 1 room", 1, () => sharedRequest),
    sendTarget("own-rooms", "SendMessage, 1 room per sender", 2, (slot) => ownRequests[slot]!),
    pgbenchTarget("pgbench-insert", "pgbench: INSERT one row (bench_rows)", insertScript, () => count(`select count(*) as n from bench_rows`)),
    pgbenchTarget("pgbench-append", "pgbench: the service's append SQL, 1 room", appendScript, () =>
      count(`select count(*) as n from messages where room_id = $1::uuid`, [pgbenchRoom]),
    ),
  ];

  if (warmupMs > 0) options.log(`warming up each target for ${warmupMs} ms with ${maxClients} clients`);
  const failures: string[] = [];
  const othersNote = await othersOnServer(base);
  for (const target of warmupMs > 0 ? targets : []) {
    const warm = await target.measure(maxClients, warmupMs);
    if (warm.errors > 0) throw new Error(`${target.label}: ${warm.errors} errors while warming up: ${String(warm.firstError)}`);
    if (warm.counted !== warm.acknowledged) failures.push(`${target.label}, warm-up: ${warm.acknowledged} acknowledged but ${warm.counted} rows stored`);
  }

  // Rounds alternate the targets (forward, then backward) so that noise and drift hit all of them.
  const results = new Map<string, Measurement[]>();
  for (let round = 0; round < runs; round++) {
    for (const clients of clientCounts) {
      const here = targets.filter((t) => clients >= t.minClients);
      for (const target of round % 2 === 0 ? here : [...here].reverse()) {
        const m = await target.measure(clients, durationMs);
        const key = `${target.key}@${clients}`;
        results.set(key, [...(results.get(key) ?? []), m]);
        const mismatch = m.counted !== m.acknowledged;
        if (mismatch) failures.push(`${target.label}, ${clients} clients, run ${round + 1}: ${m.acknowledged} acknowledged but ${m.counted} rows stored`);
        if (m.errors > 0) failures.push(`${target.label}, ${clients} clients, run ${round + 1}: ${m.errors} errors, first: ${String(m.firstError)}`);
        options.log(
          `run ${round + 1}/${runs}  ${String(clients).padStart(2)} clients  ${target.label.padEnd(44)} ${num(m.perSecond).padStart(6)}/s  p50 ${num(m.p50)} ms  p99 ${num(m.p99)} ms  rows ${m.counted}/${m.acknowledged}${mismatch ? " MISMATCH" : ""}  CPU: message ${percent(m.messageCpu)} room ${percent(m.roomCpu)} postgres ${percent(m.postgresCpu)} client ${percent(m.clientCpu)} others ${percent(m.otherCpu)}${m.errors ? `  ${m.errors} ERRORS` : ""}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  // Every room's seq is gapless: its head equals its row count and its largest seq.
  const { rows: heads } = await db.query<{ room_id: string; last_seq: string; n: string; max_seq: string | null }>(
    `select h.room_id, h.last_seq, c.n, c.max_seq from room_heads h
     cross join lateral (select count(*) as n, max(seq) as max_seq from messages m where m.room_id = h.room_id) c
     where h.room_id = any($1::uuid[])`,
    [[...serviceRooms, pgbenchRoom]],
  );
  const gaps = heads.filter((h) => h.last_seq !== h.n || h.max_seq !== h.last_seq);
  for (const h of gaps) failures.push(`room ${h.room_id}: head ${h.last_seq} but ${h.n} rows, largest seq ${h.max_seq}`);
  const totalRows = heads.reduce((sum, h) => sum + Number(h.n), 0);

  const serverNote = await othersNote();
  return report(options, {
    serverNote,
    runs,
    targets,
    clientCounts,
    results,
    failures,
    durationMs,
    warmupMs,
    cpus,
    rooms: heads.length,
    totalRows,
    pgbench: pgbenchVersion(pgbench),
    postgres: await serverVersion(),
    settings: await commitSettings(),
    measuredPostgresCpu: postmaster !== undefined,
  });
}

function report(
  options: BenchOptions,
  facts: {
    serverNote: string;
    runs: number;
    targets: Target[];
    clientCounts: number[];
    results: Map<string, Measurement[]>;
    failures: string[];
    durationMs: number;
    warmupMs: number;
    cpus: string | undefined;
    rooms: number;
    totalRows: number;
    pgbench: string;
    postgres: string;
    settings: string;
    measuredPostgresCpu: boolean;
  },
): ScenarioReport {
  const { targets, results } = facts;
  const rows: Row[] = [];
  const notes: string[] = [];
  const median = (runs: Measurement[], value: (m: Measurement) => number) => spread(runs.map(value)).median;
  const ms = (value: number) => `${num(value)} ms`;
  for (const clients of facts.clientCounts) {
    const baseline = results.get(`pgbench-insert@${clients}`)!;
    for (const target of targets.filter((t) => clients >= t.minClients)) {
      const runs = results.get(`${target.key}@${clients}`)!;
      const ratios = runs.map((m, round) => m.perSecond / baseline[round]!.perSecond);
      const isService = !target.key.startsWith("pgbench");
      rows.push({
        target: target.label,
        clients,
        perSecond: spreadText(spread(runs.map((m) => m.perSecond))),
        p50: spreadText(spread(runs.map((m) => m.p50))),
        p99: spreadText(spread(runs.map((m) => m.p99))),
        vsInsert: target.key === "pgbench-insert" ? "1" : spreadText(spread(ratios), (v) => v.toFixed(2)),
        serviceCpu: isService ? `${percent(median(runs, (m) => m.messageCpu + m.roomCpu))} (${ms(median(runs, (m) => m.servicePerOp))})` : "–",
        postgresCpu: `${percent(median(runs, (m) => m.postgresCpu))} (${ms(median(runs, (m) => m.postgresPerOp))})`,
        clientCpu: `${percent(median(runs, (m) => m.clientCpu))} (${ms(median(runs, (m) => m.clientPerOp))})`,
        otherCpu: percent(median(runs, (m) => m.otherCpu)),
        verified: `${runs.reduce((s, m) => s + m.counted, 0).toLocaleString("en-US")} = ${runs.reduce((s, m) => s + m.acknowledged, 0).toLocaleString("en-US")}${runs.some((m) => m.counted !== m.acknowledged) ? " MISMATCH" : ""}`,
        errors: runs.reduce((s, m) => s + m.errors, 0),
      });
    }
    const one = results.get(`one-room@${clients}`)!;
    const own = results.get(`own-rooms@${clients}`);
    const append = results.get(`pgbench-append@${clients}`)!;
    const ratio = (runs: Measurement[]) => {
      const r = spread(runs.map((m, round) => m.perSecond / baseline[round]!.perSecond));
      return `${r.median.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})`;
    };
    notes.push(
      `${clients} sender${clients === 1 ? "" : "s"}: SendMessage stored ${num(median(one, (m) => m.perSecond))} messages/s into one room, ${ratio(one)} pgbench's ${num(median(baseline, (m) => m.perSecond))} single-row inserts/s` +
        (own ? `; spread over one room per sender ${num(median(own, (m) => m.perSecond))}/s, ${ratio(own)}` : "") +
        `. The service's own append statement run by pgbench (one room, no Node) did ${num(median(append, (m) => m.perSecond))}/s, ${ratio(append)}. ` +
        `CPU per send (one room): message + room services ${ms(median(one, (m) => m.servicePerOp))}, PostgreSQL ${ms(median(one, (m) => m.postgresPerOp))}; per pgbench insert, PostgreSQL ${ms(median(baseline, (m) => m.postgresPerOp))}.`,
    );
  }
  if (facts.failures.length > 0) {
    notes.push(`ERRORS: ${facts.failures.join("; ")}`);
  } else {
    notes.push(
      `Verified after every run (warm-ups too): rows counted in the database = sends acknowledged (and = pgbench's committed transactions), no errors; at the end, every one of the ${facts.rooms} rooms had a gapless seq (head = row count = largest seq; ${facts.totalRows.toLocaleString("en-US")} rows).`,
    );
  }
  const others = median([...results.values()].flat(), (m) => m.otherCpu);
  notes.push(
    `The machine (2 cores) is shared and was ${others >= 0.25 ? `busy: other processes kept ${percent(others)} of a core busy (median)` : `fairly quiet (others' CPU ${percent(others)} median)`}; PostgreSQL's CPU is the whole server's, so other databases' work on it counts there too. ${facts.serverNote} Rates swing between runs; the per-round ratios are the steadier numbers.`,
  );
  return {
    columns: [
      { key: "target", title: "what" },
      { key: "clients", title: "clients", align: "right" },
      { key: "perSecond", title: "rows/s", align: "right" },
      { key: "p50", title: "p50 ms", align: "right" },
      { key: "p99", title: "p99 ms", align: "right" },
      { key: "vsInsert", title: "× pgbench INSERT", align: "right" },
      { key: "serviceCpu", title: "services CPU (per row)", align: "right" },
      { key: "postgresCpu", title: "PostgreSQL CPU (per row)", align: "right" },
      { key: "clientCpu", title: "client CPU (per row)", align: "right" },
      { key: "otherCpu", title: "others' CPU", align: "right" },
      { key: "verified", title: "rows stored = acked", align: "right" },
      { key: "errors", title: "errors", align: "right" },
    ],
    rows,
    settings: [
      `${facts.runs} runs of ${facts.durationMs / 1000} s per target and client count (${facts.clientCounts.join(", ")} clients, closed loop: each client sends when its previous send is answered), ${facts.warmupMs > 0 ? `after a ${facts.warmupMs / 1000} s warm-up per target at ${Math.max(...facts.clientCounts)} clients` : "no warm-up"}; targets alternate within every round (forward, then backward).${options.quick ? " Quick mode: one client count, 1 round of 1 s runs, no warm-up." : ""}`,
      `Cells are median (min–max) over the runs; "× pgbench INSERT" is each run's rate divided by the pgbench INSERT run of the same round and client count. CPU is the median share of one core during a run with the CPU time per stored row in brackets: "services" is the message and room service processes together, "PostgreSQL" every process of the server (postmaster, backends, WAL writer, checkpointer: /proc, including backends that exited), "client" the load generator (this runner's process for SendMessage, the pgbench process for pgbench, its connection set-up included), "others'" every other process of the machine (/proc/stat).`,
      `SendMessage: the message service (@parley/message launch(), kit gRPC server, MikroORM on PostgreSQL with the kit's pool of 10 connections, logs at info to /dev/null, events to Redis ${REDIS_URL} under a prefix of its own) calls the room service's GetMembership (same, its own process and database) for every send; no client_msg_id (the server picks one: every send is a new message). The load generator is a plain @grpc/grpc-js client (one HTTP/2 connection) sending ready-made request bytes with x-user-id, ${DEADLINE_MS / 1000} s deadline; every sender is its own user. "1 room": every sender in one room (its room_heads row lock serialises the sends); "1 room per sender": sender i always sends into room i.`,
      `pgbench (${facts.pgbench}, -n -c N -j min(N,2) -T, simple protocol, each transaction one autocommitted statement): "INSERT one row" runs \`INSERT INTO bench_rows(room_id, body) VALUES ('<room>', '<same body>')\` into bench_rows (uuid primary key from gen_random_uuid(), room_id, body, created_at, and an index on (room_id, created_at)); "the service's append SQL" runs the message service's own statement (room_heads upsert + messages insert, APPEND_SQL of services/message/src/repositories.ts) on the service's tables into one room. Both in the message service's database; -T includes pgbench's connection set-up (pgbench's rate excludes it), so it is lengthened by the set-up time seen before. Latency percentiles come from pgbench's per-transaction log (-l).`,
      `PostgreSQL ${facts.postgres} on ${new URL(POSTGRES_URL).host} (${facts.settings}); databases ${"`parley_bench_send_<pid>_*`"}, dropped at the end. Every process is on 127.0.0.1. Pinning: ${facts.cpus ? `services on core(s) ${facts.cpus}, runner on core 0` : "none"}.${facts.measuredPostgresCpu ? "" : " PostgreSQL's CPU could not be read (/proc): those cells are empty."}`,
    ],
    notes,
  };
}
