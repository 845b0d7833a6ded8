// message-list: ListMessages latency at the newest page of a 100k-message room
// and with a `before` cursor 50k and 100k messages deep, on PostgreSQL, measured
// side by side: paging walks the (room_id, seq) index, so depth should not matter.
import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { asUser, createServiceClient } from "@parley/kit";
import { ListMessagesRequestSchema, ListMessagesResponseSchema, MessageService } from "@parley/proto/message/v1/message_pb";
import { RoomKind, RoomService } from "@parley/proto/room/v1/room_pb";
import { num, percent, spreadText } from "../lib/format.js";
import { closedLoop } from "../lib/load.js";
import { machineCoresBusy, machineCpuSample } from "../lib/machine.js";
import { BytesClient, startRoomAndMessage, userMetadata } from "../lib/parley-services.js";
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
import { latencyHistogram, percentileMs, spread } from "../lib/stats.js";
import { benchInternalAuth, cpuBetween, pinning, type TargetProcess } from "../lib/target-process.js";

const ROOM_MESSAGES = 100_000;
const PAGE = 50;
const IN_FLIGHT = [1, 16];
const QUICK_IN_FLIGHT = [8];
const DEADLINE_MS = 10_000;
const LIST_PATH = `/${MessageService.typeName}/${MessageService.method.listMessages.name}`;
/** The message service's page query (OLDER_SQL of services/message/src/repositories.ts), for EXPLAIN. */
const OLDER_SQL = `select * from messages where room_id = $1::uuid and seq < $2::bigint order by seq desc limit $3`;

interface Page {
  key: string;
  label: string;
  /** `before_seq`, or undefined for the newest page. */
  beforeSeq?: bigint;
  /** Messages newer than the page. */
  depth: number;
}

/** One page in one run; the CPU and error fields are the whole run's (every page interleaved). */
interface Measurement {
  /** Calls to this page per second. */
  callsPerSecond: number;
  p50: number;
  p99: number;
  /** Every call of the run, all pages. */
  allCallsPerSecond: number;
  allP50: number;
  allP99: number;
  messageCpu: number;
  roomCpu: number;
  postgresCpu: number;
  clientCpu: number;
  otherCpu: number;
  errors: number;
  firstError?: unknown;
}

export const messageList: Scenario = {
  name: "message-list",
  description: `ListMessages p50/p99 latency (room + message services on PostgreSQL) for the newest page of a ${ROOM_MESSAGES / 1000}k-message room and with a before cursor 50k and 100k messages deep`,
  run: withBenchDatabases("list", measure),
};

async function measure(
  options: BenchOptions,
  base: string,
  servers: TargetProcess[],
  closers: (() => Promise<void> | void)[],
): Promise<ScenarioReport> {
  const inFlight = options.quick ? QUICK_IN_FLIGHT : IN_FLIGHT;
  // Quick mode (the whole quick suite must stay under 5 minutes): 2 rounds of 1 s runs.
  const durationMs = options.quick ? Math.min(1000, options.durationMs) : options.durationMs;
  const runs = options.quick ? Math.min(2, options.runs) : options.runs;
  const cpus = options.pin ? pinning(availableParallelism()).servers : undefined;

  options.log(`starting the room and message services on PostgreSQL (${base}_room, ${base}_message)`);
  const { room, message, messageDatabase } = await startRoomAndMessage({ base, logLevel: "info", cpus, started: (s) => servers.push(s) });
  const db = await connect(messageDatabase);
  closers.push(() => db.end().catch(() => {}));
  const postmaster = await postmasterPid(options.log);

  // The reader owns the room (made through the room service); the history goes straight into the
  // message service's tables: one statement instead of 100k sends, with the same columns a send writes.
  const reader = randomUUID();
  const rooms = createServiceClient(RoomService, room.address, { internalAuth: benchInternalAuth });
  const roomId = (await rooms.createRoom({ name: "bench list: long history", topic: "", kind: RoomKind.PUBLIC }, asUser(reader))).room!.id;
  const seedStarted = performance.now();
  await db.query("begin");
  await db.query(
    `insert into messages (id, room_id, seq, sender_id, body, client_msg_id, reply_to_id, created_at)
     select gen_random_uuid(), $1::uuid, g, $2::uuid,
            'Seeded message ' || g || ': about as long as what people type in a chat room.',
            'seed-' || g, null, now() - ($3::int - g) * interval '1 second'
     from generate_series(1, $3::int) as g`,
    [roomId, reader, ROOM_MESSAGES],
  );
  await db.query(`insert into room_heads (room_id, last_seq, last_activity_at) values ($1::uuid, $2::bigint, now())`, [roomId, ROOM_MESSAGES]);
  await db.query("commit");
  // As autovacuum would leave a settled table: statistics and visibility map up to date.
  await db.query("vacuum (analyze) messages");
  await db.query("vacuum (analyze) room_heads");
  const seedMs = performance.now() - seedStarted;
  options.log(`seeded ${ROOM_MESSAGES.toLocaleString("en-US")} messages in ${(seedMs / 1000).toFixed(1)} s`);

  const pages: Page[] = [
    { key: "newest", label: "newest page (no cursor)", depth: 0 },
    { key: "mid", label: `before_seq ${(ROOM_MESSAGES / 2 + 1).toLocaleString("en-US")} (50k deep)`, beforeSeq: BigInt(ROOM_MESSAGES / 2 + 1), depth: ROOM_MESSAGES / 2 },
    { key: "deep", label: `before_seq ${PAGE + 1} (100k deep: the oldest page)`, beforeSeq: BigInt(PAGE + 1), depth: ROOM_MESSAGES - PAGE },
  ];
  const metadata = await userMetadata(reader);
  const client = new BytesClient(message.address);
  closers.push(() => client.close());
  const requests = new Map(
    pages.map((p) => [
      p.key,
      Buffer.from(
        toBinary(
          ListMessagesRequestSchema,
          create(ListMessagesRequestSchema, { roomId, limit: PAGE, cursor: p.beforeSeq === undefined ? { case: undefined } : { case: "beforeSeq", value: p.beforeSeq } }),
        ),
      ),
    ]),
  );
  const call = (page: Page) => () => client.call(LIST_PATH, requests.get(page.key)!, metadata, DEADLINE_MS);

  // Every page is checked once before anything is measured: 50 messages, in order, the right ones.
  let responseBytes = 0;
  for (const page of pages) {
    const bytes = await call(page)();
    responseBytes = Math.max(responseBytes, bytes.length);
    const answer = fromBinary(ListMessagesResponseSchema, bytes);
    const last = page.beforeSeq === undefined ? BigInt(ROOM_MESSAGES) : page.beforeSeq - 1n;
    const seqs = answer.messages.map((m) => m.seq);
    const expected = Array.from({ length: PAGE }, (_, i) => last - BigInt(PAGE - 1 - i));
    if (seqs.join() !== expected.join() || answer.lastSeq !== BigInt(ROOM_MESSAGES) || answer.hasOlder !== last > BigInt(PAGE)) {
      throw new Error(`${page.label}: wrong page (seq ${seqs[0]}…${seqs.at(-1)}, last_seq ${answer.lastSeq}, has_older ${answer.hasOlder})`);
    }
  }

  // What PostgreSQL does for each page's query: the plan and its own time (best of 5).
  const plans: string[] = [];
  for (const page of pages) {
    const below = page.beforeSeq ?? BigInt(ROOM_MESSAGES + 1);
    let best = Number.POSITIVE_INFINITY;
    let plan = "";
    for (let i = 0; i < 5; i++) {
      const { rows } = await db.query<{ "QUERY PLAN": unknown }>(`explain (analyze, buffers, format json) ${OLDER_SQL}`, [roomId, below.toString(), PAGE + 1]);
      type Scan = { "Node Type": string; "Scan Direction"?: string; "Index Name"?: string; "Shared Hit Blocks"?: number; "Shared Read Blocks"?: number };
      const [root] = rows[0]!["QUERY PLAN"] as { Plan: { Plans?: Scan[] }; "Execution Time": number }[];
      if (root!["Execution Time"] < best) {
        best = root!["Execution Time"];
        const scan = root!.Plan.Plans?.[0];
        plan = `${scan?.["Node Type"]}${scan?.["Scan Direction"] === "Backward" ? " Backward" : ""} using ${scan?.["Index Name"]}, ${(scan?.["Shared Hit Blocks"] ?? 0) + (scan?.["Shared Read Blocks"] ?? 0)} buffers`;
      }
    }
    plans.push(`${page.label}: ${num(best)} ms (${plan})`);
  }

  // Quick mode: no warm-up (the first round warms up).
  const warmupMs = options.quick ? 0 : options.warmupMs;
  if (warmupMs > 0) options.log(`warming up each page for ${warmupMs} ms`);
  for (const page of warmupMs > 0 ? pages : []) {
    const warm = await closedLoop({ concurrency: Math.max(...inFlight), durationMs: warmupMs, call: call(page) });
    if (warm.errors > 0) throw new Error(`${page.label}: ${warm.errors} errors while warming up: ${String(warm.firstError)}`);
  }

  // Every run interleaves the pages call by call (newest, 50k, 100k, newest, …), each page with
  // its own latency histogram: all pages see the same moments of this noisy machine, so their
  // latencies compare within a run. A run lasts as long as one run per page would.
  const runMs = durationMs * pages.length;
  const results = new Map<string, Measurement[]>();
  const othersNote = await othersOnServer(base);
  for (let round = 0; round < runs; round++) {
    for (const concurrency of inFlight) {
      const latencies = new Map(pages.map((p) => [p.key, latencyHistogram()]));
      const [messageBefore, roomBefore] = await Promise.all([message.cpuSample(), room.cpuSample()]);
      const pgBefore = postgresCpuSample(postmaster);
      const machineBefore = machineCpuSample();
      // Round-robin from a different page each round, so that no page always goes first.
      const load = await closedLoop({
        concurrency,
        durationMs: runMs,
        call: async (i) => {
          const page = pages[(i + round) % pages.length]!;
          const started = performance.now();
          await call(page)();
          latencies.get(page.key)!.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
        },
      });
      const machineAfter = machineCpuSample();
      const pgAfter = postgresCpuSample(postmaster);
      const [messageAfter, roomAfter] = await Promise.all([message.cpuSample(), room.cpuSample()]);
      const shared = {
        allCallsPerSecond: (load.calls / load.elapsedMs) * 1000,
        allP50: percentileMs(load.latency, 50),
        allP99: percentileMs(load.latency, 99),
        messageCpu: cpuBetween(messageBefore, messageAfter),
        roomCpu: cpuBetween(roomBefore, roomAfter),
        postgresCpu: postgresCpuBetween(pgBefore, pgAfter),
        clientCpu: load.clientCpu,
        otherCpu: 0,
        errors: load.errors,
        firstError: load.firstError,
      };
      const ours = shared.messageCpu + shared.roomCpu + (Number.isFinite(shared.postgresCpu) ? shared.postgresCpu : 0) + shared.clientCpu;
      shared.otherCpu = Math.max(0, machineCoresBusy(machineBefore, machineAfter) - ours);
      const line: string[] = [];
      for (const page of pages) {
        const latency = latencies.get(page.key)!;
        const m: Measurement = {
          ...shared,
          callsPerSecond: (latency.totalCount / load.elapsedMs) * 1000,
          p50: percentileMs(latency, 50),
          p99: percentileMs(latency, 99),
        };
        results.set(`${page.key}@${concurrency}`, [...(results.get(`${page.key}@${concurrency}`) ?? []), m]);
        line.push(`${page.key} p50 ${num(m.p50)} p99 ${num(m.p99)}`);
      }
      options.log(
        `run ${round + 1}/${runs}  ${String(concurrency).padStart(2)} in flight  ${num(shared.allCallsPerSecond).padStart(5)} calls/s  ${line.join(" | ")} ms  CPU: message ${percent(shared.messageCpu)} room ${percent(shared.roomCpu)} postgres ${percent(shared.postgresCpu)} client ${percent(shared.clientCpu)} others ${percent(shared.otherCpu)}${shared.errors ? `  ${shared.errors} ERRORS` : ""}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  const serverNote = await othersNote();
  return report(options, {
    serverNote,
    runs,
    pages,
    inFlight,
    results,
    durationMs,
    cpus,
    plans,
    seedMs,
    responseBytes,
    postgres: await serverVersion(),
    settings: await commitSettings(),
  });
}

function report(
  options: BenchOptions,
  facts: {
    serverNote: string;
    runs: number;
    pages: Page[];
    inFlight: number[];
    results: Map<string, Measurement[]>;
    durationMs: number;
    cpus: string | undefined;
    plans: string[];
    seedMs: number;
    responseBytes: number;
    postgres: string;
    settings: string;
  },
): ScenarioReport {
  const { results } = facts;
  const rows: Row[] = [];
  const notes: string[] = [];
  const median = (runs: Measurement[], value: (m: Measurement) => number) => spread(runs.map(value)).median;
  const perCall = (runs: Measurement[], cpu: (m: Measurement) => number) => median(runs, (m) => (cpu(m) * 1000) / m.allCallsPerSecond);
  const cpuText = (runs: Measurement[], cpu: (m: Measurement) => number) => `${percent(median(runs, cpu))} (${num(perCall(runs, cpu))} ms)`;
  const ratioText = (s: { median: number; min: number; max: number }) => `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
  for (const concurrency of facts.inFlight) {
    const newest = results.get(`newest@${concurrency}`)!;
    for (const page of facts.pages) {
      const runs = results.get(`${page.key}@${concurrency}`)!;
      const ratio = (value: (m: Measurement) => number) => spread(runs.map((m, round) => value(m) / value(newest[round]!)));
      rows.push({
        page: page.label,
        inFlight: concurrency,
        callsPerSecond: spreadText(spread(runs.map((m) => m.callsPerSecond))),
        p50: spreadText(spread(runs.map((m) => m.p50))),
        p99: spreadText(spread(runs.map((m) => m.p99))),
        p50VsNewest: page.key === "newest" ? "1" : spreadText(ratio((m) => m.p50), (v) => v.toFixed(2)),
        p99VsNewest: page.key === "newest" ? "1" : spreadText(ratio((m) => m.p99), (v) => v.toFixed(2)),
        messageCpu: "",
        roomCpu: "",
        postgresCpu: "",
        clientCpu: "",
        otherCpu: "",
        errors: "",
      });
    }
    // The run as a whole: every page's calls together, and what they cost.
    rows.push({
      page: "all three, interleaved",
      inFlight: concurrency,
      callsPerSecond: spreadText(spread(newest.map((m) => m.allCallsPerSecond))),
      p50: spreadText(spread(newest.map((m) => m.allP50))),
      p99: spreadText(spread(newest.map((m) => m.allP99))),
      p50VsNewest: "",
      p99VsNewest: "",
      messageCpu: cpuText(newest, (m) => m.messageCpu),
      roomCpu: cpuText(newest, (m) => m.roomCpu),
      postgresCpu: cpuText(newest, (m) => m.postgresCpu),
      clientCpu: cpuText(newest, (m) => m.clientCpu),
      otherCpu: percent(median(newest, (m) => m.otherCpu)),
      errors: newest.reduce((s, m) => s + m.errors, 0),
    });
    const failed = newest.find((m) => m.errors > 0);
    if (failed) notes.push(`ERRORS at ${concurrency} in flight, first: ${String(failed.firstError)}`);
    const deep = results.get(`deep@${concurrency}`)!;
    notes.push(
      `${concurrency} in flight: 100k deep, p50 ${num(median(deep, (m) => m.p50))} ms and p99 ${num(median(deep, (m) => m.p99))} ms against ${num(median(newest, (m) => m.p50))} ms and ${num(median(newest, (m) => m.p99))} ms for the newest page, in the same runs: ` +
        `p50 ${ratioText(spread(deep.map((m, round) => m.p50 / newest[round]!.p50)))}, p99 ${ratioText(spread(deep.map((m, round) => m.p99 / newest[round]!.p99)))} the newest page's.`,
    );
  }
  notes.push(`PostgreSQL's own time for the page query (EXPLAIN ANALYZE of the service's query, limit ${PAGE + 1}, best of 5): ${facts.plans.join("; ")}.`);
  const others = median([...results.values()].flat(), (m) => m.otherCpu);
  notes.push(
    `The machine (2 cores) is shared and was ${others >= 0.25 ? `busy: other processes kept ${percent(others)} of a core busy (median)` : `fairly quiet (others' CPU ${percent(others)} median)`}; PostgreSQL's CPU is the whole server's (other databases' work counts there too). ${facts.serverNote} Latencies swing between runs; the ratios, within a run, are the steadier numbers.`,
  );
  return {
    columns: [
      { key: "page", title: "page" },
      { key: "inFlight", title: "in flight", align: "right" },
      { key: "callsPerSecond", title: "calls/s", align: "right" },
      { key: "p50", title: "p50 ms", align: "right" },
      { key: "p99", title: "p99 ms", align: "right" },
      { key: "p50VsNewest", title: "p50 × newest", align: "right" },
      { key: "p99VsNewest", title: "p99 × newest", align: "right" },
      { key: "messageCpu", title: "message CPU (per call)", align: "right" },
      { key: "roomCpu", title: "room CPU (per call)", align: "right" },
      { key: "postgresCpu", title: "PostgreSQL CPU (per call)", align: "right" },
      { key: "clientCpu", title: "client CPU (per call)", align: "right" },
      { key: "otherCpu", title: "others' CPU", align: "right" },
      { key: "errors", title: "errors", align: "right" },
    ],
    rows,
    settings: [
      `${facts.runs} runs of ${(facts.durationMs * facts.pages.length) / 1000} s per in-flight count (${facts.inFlight.join(" and ")} calls in flight, closed loop), ${options.quick ? "no warm-up" : `after a ${options.warmupMs / 1000} s warm-up per page`}. Within a run the pages are interleaved call by call (round-robin, starting from another page each run), each page with its own latency histogram: the pages share every moment of the run, so their latencies compare within it.${options.quick ? " Quick mode: one in-flight count, 2 rounds of 3 s runs, no warm-up." : ""}`,
      `One room of ${ROOM_MESSAGES.toLocaleString("en-US")} messages (bodies of ~75 characters), seeded in ${(facts.seedMs / 1000).toFixed(1)} s with one INSERT … SELECT generate_series into the message service's messages table plus its room_heads row, then VACUUM ANALYZE; each call asks for ${PAGE} messages (answer up to ${facts.responseBytes.toLocaleString("en-US")} bytes), every page checked once (the right seqs, in order, has_older, last_seq) before measuring.`,
      `Each ListMessages: the message service (its own process, kit gRPC server, MikroORM on PostgreSQL, logs at info to /dev/null) asks the room service's GetMembership (its own process and database), reads the room head, then the page (one backward range scan of the (room_id, seq) unique index). The load generator is a plain @grpc/grpc-js client (one HTTP/2 connection) sending ready-made request bytes with x-user-id, ${DEADLINE_MS / 1000} s deadline.`,
      `Cells are median (min–max) over the runs; "p50 × newest" and "p99 × newest" are each run's percentile for that page divided by the newest page's in the same run. Calls/s of a page is its share of the run (a third). CPU, on the "all three" row: median share of one core during a run, CPU time per call in brackets; "PostgreSQL" is every process of the server (/proc), "others'" every other process of the machine.`,
      `PostgreSQL ${facts.postgres} on ${new URL(POSTGRES_URL).host} (${facts.settings}); databases \`parley_bench_list_<pid>_*\`, dropped at the end. Every process is on 127.0.0.1. Pinning: ${facts.cpus ? `services on core(s) ${facts.cpus}, runner on core 0` : "none"}.`,
    ],
    notes,
  };
}
