// edge-http: requests per second and p99 through the edge with autocannon, for
// an authenticated messages.list and messages.send over tRPC (/trpc) and over
// REST (/api/v1), next to a bare node:http server returning the same JSON, side
// by side in one run: which adapter is cheaper, and what the edge costs.
import { availableParallelism } from "node:os";
import autocannon from "autocannon";
import { num, percent, spreadText } from "../lib/format.js";
import { machineCoresBusy, machineCpuSample } from "../lib/machine.js";
import {
  databaseUrl,
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
import { cpuBetween, pinning, startTargetProcess, type TargetProcess } from "../lib/target-process.js";

const CONNECTIONS = 16;
const PAGE = 50;
const BODY = "Hello from the edge benchmark: about as long as what people type in a chat.";
const TIMEOUT_S = 10;

type Op = "list" | "send" | "invalid";
const OPS: Op[] = ["list", "send", "invalid"];
/** Over PAGE's limit: refused by input validation after the token check, before any service is called. */
const INVALID_LIMIT = 101;

interface Target {
  key: string;
  op: Op;
  label: string;
  server: TargetProcess;
  request: { url: string; method: "GET" | "POST"; headers: Record<string, string>; body?: string };
  /** The status every answer must have. */
  status: number;
}

interface Measurement {
  /** Answers with the expected status per second. */
  requestsPerSecond: number;
  p50: number;
  p99: number;
  ok: number;
  /** Answers with any other status. */
  unexpected: number;
  errors: number;
  serverCpu: number;
  postgresCpu: number;
  clientCpu: number;
  otherCpu: number;
  /** Sends only: messages the room gained during the run, minus the 2xx answers (requests cut at the stop may still commit). */
  unanswered?: number;
}

export const edgeHttp: Scenario = {
  name: "edge-http",
  description:
    "Authenticated messages.list and messages.send req/s and p50/p99 through the edge (all-in-one on PostgreSQL) over tRPC and over REST, with autocannon, next to a bare node:http server returning the same JSON",
  run: withBenchDatabases("edge", measure),
};

async function measure(options: BenchOptions, base: string, servers: TargetProcess[]): Promise<ScenarioReport> {
  const cpus = options.pin ? pinning(availableParallelism()).servers : undefined;
  // Whole seconds, as autocannon takes them.
  const seconds = options.quick ? 1 : Math.max(1, Math.round(options.durationMs / 1000));
  // Quick mode: 1 round, no warm-up: the whole quick suite must stay under 5 minutes.
  const warmupSeconds = options.quick ? 0 : Math.max(1, Math.round(options.warmupMs / 1000));
  const runs = options.quick ? 1 : options.runs;
  const postmaster = await postmasterPid(options.log);

  options.log(`starting Parley all-in-one on PostgreSQL (${base}_*)`);
  const parley = await startTargetProcess({
    name: "parley all-in-one",
    module: new URL("../servers/all-in-one.ts", import.meta.url),
    env: {
      DATABASE_URL: databaseUrl(base),
      // In-memory broker and rate limiter: everything runs in one process.
      REDIS_URL: "",
      LOG_LEVEL: "info",
      // Rate limits out of the way of a benchmark (one user, one address).
      RATE_SEND_PER_10S_USER: "1000000000",
      RATE_SEND_PER_10S_ADDRESS: "1000000000",
      RATE_READ_PER_10S_USER: "1000000000",
      RATE_WRITE_PER_10S_USER: "1000000000",
      RATE_SEARCH_PER_10S_USER: "1000000000",
      RATE_REGISTER_PER_HOUR: "1000",
      RATE_LOGIN_PER_MINUTE: "1000",
      // The token must outlive the run (default 15 minutes).
      ACCESS_TOKEN_TTL_SECONDS: "7200",
    },
    cpus,
    startTimeoutMs: 180_000,
  });
  servers.push(parley);
  const edge = `http://${parley.address}`;

  // One user and one room with more than a page of history, through the public REST API.
  const api = async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await fetch(`${edge}${path}`, {
      method,
      headers: { ...(body !== undefined && { "content-type": "application/json" }), ...(token && { authorization: `Bearer ${token}` }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
    return text;
  };
  const username = `bench_edge_${process.pid}`;
  const { accessToken: token } = JSON.parse(
    await api("POST", "/api/v1/auth/register", { email: `${username}@example.com`, username, password: "correct horse battery staple" }),
  ) as { accessToken: string };
  const { id: roomId } = JSON.parse(await api("POST", "/api/v1/rooms", { name: "bench edge", visibility: "public" }, token)) as { id: string };
  for (let i = 0; i < PAGE + 10; i++) await api("POST", "/api/v1/messages", { roomId, body: BODY }, token);
  const listBody = await api("GET", `/api/v1/messages/${roomId}?limit=${PAGE}`, undefined, token);
  const sendBody = await api("POST", "/api/v1/messages", { roomId, body: BODY }, token);
  const invalidResponse = await fetch(`${edge}/api/v1/messages/${roomId}?limit=${INVALID_LIMIT}`, { headers: { authorization: `Bearer ${token}` } });
  const invalidBody = await invalidResponse.text();
  if (invalidResponse.status !== 400) throw new Error(`limit=${INVALID_LIMIT}: HTTP ${invalidResponse.status} ${invalidBody}`);
  const lastSeq = async () => (JSON.parse(await api("GET", `/api/v1/messages/${roomId}?limit=1`, undefined, token)) as { lastSeq: number }).lastSeq;

  const bare = await startTargetProcess({
    name: "bare node:http",
    module: new URL("../servers/bare-http.ts", import.meta.url),
    env: { BENCH_GET_BODY: listBody, BENCH_POST_BODY: sendBody, BENCH_ERROR_BODY: invalidBody },
    cpus,
  });
  servers.push(bare);

  const auth = { authorization: `Bearer ${token}` };
  const json = { "content-type": "application/json" };
  const sendInput = JSON.stringify({ roomId, body: BODY });
  const trpcList = (limit: number) => `${edge}/trpc/messages.list?input=${encodeURIComponent(JSON.stringify({ roomId, limit }))}`;
  const targets: Target[] = [
    { key: "trpc-list", op: "list", label: "tRPC GET /trpc/messages.list", server: parley, status: 200, request: { url: trpcList(PAGE), method: "GET", headers: auth } },
    { key: "rest-list", op: "list", label: "REST GET /api/v1/messages/:roomId", server: parley, status: 200, request: { url: `${edge}/api/v1/messages/${roomId}?limit=${PAGE}`, method: "GET", headers: auth } },
    { key: "bare-list", op: "list", label: "bare node:http GET (same JSON)", server: bare, status: 200, request: { url: `http://${bare.address}/list`, method: "GET", headers: auth } },
    { key: "trpc-send", op: "send", label: "tRPC POST /trpc/messages.send", server: parley, status: 200, request: { url: `${edge}/trpc/messages.send`, method: "POST", headers: { ...auth, ...json }, body: sendInput } },
    { key: "rest-send", op: "send", label: "REST POST /api/v1/messages", server: parley, status: 201, request: { url: `${edge}/api/v1/messages`, method: "POST", headers: { ...auth, ...json }, body: sendInput } },
    { key: "bare-send", op: "send", label: "bare node:http POST (same JSON)", server: bare, status: 201, request: { url: `http://${bare.address}/send`, method: "POST", headers: { ...auth, ...json }, body: sendInput } },
    { key: "trpc-invalid", op: "invalid", label: `tRPC GET messages.list limit=${INVALID_LIMIT} → 400`, server: parley, status: 400, request: { url: trpcList(INVALID_LIMIT), method: "GET", headers: auth } },
    { key: "rest-invalid", op: "invalid", label: `REST GET messages limit=${INVALID_LIMIT} → 400`, server: parley, status: 400, request: { url: `${edge}/api/v1/messages/${roomId}?limit=${INVALID_LIMIT}`, method: "GET", headers: auth } },
    { key: "bare-invalid", op: "invalid", label: "bare node:http GET → 400 (same JSON)", server: bare, status: 400, request: { url: `http://${bare.address}/error`, method: "GET", headers: auth } },
  ];

  // Every target answers as expected once before anything is measured.
  const sizes = new Map<string, number>();
  for (const target of targets) {
    const response = await fetch(target.request.url, { method: target.request.method, headers: target.request.headers, body: target.request.body, signal: AbortSignal.timeout(30_000) });
    const text = await response.text();
    const value = JSON.parse(text) as { result?: { data?: unknown } };
    const data = (target.key.startsWith("trpc") ? value.result?.data : value) as { messages?: unknown[]; roomId?: string; seq?: number };
    const good =
      response.status === target.status &&
      (target.op === "list" ? data?.messages?.length === PAGE : target.op === "send" ? data?.roomId === roomId : text.includes("limit"));
    if (!good) throw new Error(`${target.label}: unexpected answer HTTP ${response.status} ${text.slice(0, 200)}`);
    sizes.set(target.key, Buffer.byteLength(text));
  }

  const run = async (target: Target, durationSeconds: number): Promise<Measurement> => {
    const seqBefore = target.op === "send" && target.server === parley ? await lastSeq() : undefined;
    const serverBefore = await target.server.cpuSample();
    const pgBefore = postgresCpuSample(postmaster);
    const machineBefore = machineCpuSample();
    const clientBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const latency = latencyHistogram();
    const result = await new Promise<autocannon.Result>((resolve, reject) => {
      const instance = autocannon(
        // autocannon stops on its next sample tick after the duration: 250 ms ticks instead of 1 s.
        { ...target.request, connections: CONNECTIONS, pipelining: 1, duration: durationSeconds, timeout: TIMEOUT_S, sampleInt: 250 },
        (error, value) => (error ? reject(error) : resolve(value)),
      );
      // Our own histogram, in µs (autocannon's keeps whole milliseconds).
      instance.on("response", (_client, _status, _bytes, ms) => latency.recordValue(Math.max(1, Math.round(ms * 1000))));
    });
    const wallMs = performance.now() - wallBefore;
    const client = process.cpuUsage(clientBefore);
    const machineAfter = machineCpuSample();
    const pgAfter = postgresCpuSample(postmaster);
    const serverAfter = await target.server.cpuSample();
    const ok = result.statusCodeStats?.[String(target.status) as `${number}`]?.count ?? 0;
    const answered = result["1xx"] + result["2xx"] + result["3xx"] + result["4xx"] + result["5xx"];
    let unanswered: number | undefined;
    if (seqBefore !== undefined) {
      // Requests cut when autocannon stopped may still be committing: give them a moment.
      await new Promise((resolve) => setTimeout(resolve, 500));
      unanswered = (await lastSeq()) - seqBefore - ok;
    }
    const serverCpu = cpuBetween(serverBefore, serverAfter);
    const postgresCpu = postgresCpuBetween(pgBefore, pgAfter);
    const clientCpu = (client.user + client.system) / 1000 / wallMs;
    return {
      requestsPerSecond: ok / result.duration,
      p50: percentileMs(latency, 50),
      p99: percentileMs(latency, 99),
      ok,
      unexpected: answered - ok,
      errors: result.errors,
      serverCpu,
      postgresCpu,
      clientCpu,
      otherCpu: Math.max(0, machineCoresBusy(machineBefore, machineAfter) - serverCpu - (Number.isFinite(postgresCpu) ? postgresCpu : 0) - clientCpu),
      unanswered,
    };
  };

  if (warmupSeconds > 0) options.log(`warming up each target for ${warmupSeconds} s`);
  for (const target of warmupSeconds > 0 ? targets : []) {
    const warm = await run(target, warmupSeconds);
    if (warm.errors + warm.unexpected > 0) throw new Error(`${target.label}: ${warm.errors} errors and ${warm.unexpected} answers other than ${target.status} while warming up`);
  }

  const results = new Map<string, Measurement[]>();
  const failures: string[] = [];
  const othersNote = await othersOnServer(base);
  for (let round = 0; round < runs; round++) {
    for (const op of OPS) {
      const here = targets.filter((t) => t.op === op);
      for (const target of round % 2 === 0 ? here : [...here].reverse()) {
        const m = await run(target, seconds);
        results.set(target.key, [...(results.get(target.key) ?? []), m]);
        if (m.errors + m.unexpected > 0) failures.push(`${target.label}, run ${round + 1}: ${m.errors} errors, ${m.unexpected} answers other than ${target.status}`);
        if (m.unanswered !== undefined && (m.unanswered < 0 || m.unanswered > CONNECTIONS)) {
          failures.push(`${target.label}, run ${round + 1}: ${m.ok} sends answered 2xx but the room gained ${m.ok + m.unanswered} messages`);
        }
        options.log(
          `run ${round + 1}/${runs}  ${target.label.padEnd(36)} ${num(m.requestsPerSecond).padStart(6)} req/s  p50 ${num(m.p50)} ms  p99 ${num(m.p99)} ms  CPU: server ${percent(m.serverCpu)} postgres ${percent(m.postgresCpu)} client ${percent(m.clientCpu)} others ${percent(m.otherCpu)}${m.unanswered !== undefined ? `  stored = answered + ${m.unanswered}` : ""}${m.errors + m.unexpected ? `  ${m.errors + m.unexpected} ERRORS` : ""}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  const serverNote = await othersNote();
  return report(options, { serverNote, targets, results, failures, runs, seconds, warmupSeconds, cpus, sizes, postgres: await serverVersion() });
}

function report(
  options: BenchOptions,
  facts: {
    serverNote: string;
    targets: Target[];
    results: Map<string, Measurement[]>;
    failures: string[];
    runs: number;
    seconds: number;
    warmupSeconds: number;
    cpus: string | undefined;
    sizes: Map<string, number>;
    postgres: string;
  },
): ScenarioReport {
  const { targets, results } = facts;
  const median = (runs: Measurement[], value: (m: Measurement) => number) => spread(runs.map(value)).median;
  const perRequest = (runs: Measurement[], cpu: (m: Measurement) => number) => median(runs, (m) => (cpu(m) * 1000) / m.requestsPerSecond);
  const cpuText = (runs: Measurement[], cpu: (m: Measurement) => number) => `${percent(median(runs, cpu))} (${num(perRequest(runs, cpu))} ms)`;
  const ratio = (a: Measurement[], b: Measurement[], value: (m: Measurement) => number) => spread(a.map((m, round) => value(m) / value(b[round]!)));
  const ratioText = (s: { median: number; min: number; max: number }) => `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const target of targets) {
    const runs = results.get(target.key)!;
    const bare = results.get(`bare-${target.op}`)!;
    rows.push({
      target: target.label,
      bytes: facts.sizes.get(target.key) ?? "",
      requestsPerSecond: spreadText(spread(runs.map((m) => m.requestsPerSecond))),
      p50: spreadText(spread(runs.map((m) => m.p50))),
      p99: spreadText(spread(runs.map((m) => m.p99))),
      vsBare: target.key.startsWith("bare") ? "1" : spreadText(ratio(runs, bare, (m) => m.requestsPerSecond), (v) => v.toFixed(3)),
      serverCpu: cpuText(runs, (m) => m.serverCpu),
      postgresCpu: target.key.startsWith("bare") ? "–" : cpuText(runs, (m) => m.postgresCpu),
      clientCpu: cpuText(runs, (m) => m.clientCpu),
      otherCpu: percent(median(runs, (m) => m.otherCpu)),
      errors: runs.reduce((s, m) => s + m.errors + m.unexpected, 0),
    });
  }
  for (const op of OPS) {
    const trpc = results.get(`trpc-${op}`)!;
    const rest = results.get(`rest-${op}`)!;
    const bare = results.get(`bare-${op}`)!;
    const trpcCpu = perRequest(trpc, (m) => m.serverCpu);
    const restCpu = perRequest(rest, (m) => m.serverCpu);
    const bareCpu = perRequest(bare, (m) => m.serverCpu);
    const name = op === "invalid" ? `messages.list refused (limit=${INVALID_LIMIT}, 400)` : `messages.${op}`;
    notes.push(
      `${name}: tRPC ${num(median(trpc, (m) => m.requestsPerSecond))} req/s (p99 ${num(median(trpc, (m) => m.p99))} ms), REST ${num(median(rest, (m) => m.requestsPerSecond))} req/s (p99 ${num(median(rest, (m) => m.p99))} ms), ` +
        `the bare node:http server ${num(median(bare, (m) => m.requestsPerSecond))} req/s (p99 ${num(median(bare, (m) => m.p99))} ms) at ${num(bareCpu)} ms of CPU per request: ` +
        `the ${op === "invalid" ? "edge alone (routing, context, token check, input validation, error answer)" : "edge and the services behind it"} cost ${num(Math.min(trpcCpu, restCpu) / bareCpu)}× to ${num(Math.max(trpcCpu, restCpu) / bareCpu)}× that per request.`,
    );
  }
  // The verdict goes by server CPU per request (what an adapter costs); requests/s on this shared machine swing more.
  const verdict = (op: Op) => {
    const trpc = results.get(`trpc-${op}`)!;
    const rest = results.get(`rest-${op}`)!;
    const cpu = ratio(rest, trpc, (m) => m.serverCpu / m.requestsPerSecond);
    const rate = ratio(rest, trpc, (m) => m.requestsPerSecond);
    const trpcMs = perRequest(trpc, (m) => m.serverCpu);
    const restMs = perRequest(rest, (m) => m.serverCpu);
    const cheaper = cpu.median < 1 ? "REST" : "tRPC";
    const saving = cpu.median < 1 ? 1 - cpu.median : 1 - 1 / cpu.median;
    const sure = cpu.max < 1 || cpu.min > 1 ? "in every round" : "not in every round (within this machine's noise)";
    return `${cheaper} ${Math.round(saving * 100)}% less server CPU per request (REST ${num(restMs)} ms, tRPC ${num(trpcMs)} ms, ${num(Math.abs(trpcMs - restMs))} ms apart; REST/tRPC per round ${ratioText(cpu)}, ${sure}), requests/s REST/tRPC ${ratioText(rate)}`;
  };
  notes.push(
    `Adapter, REST against tRPC: refused before any service call, where the HTTP layer is nearly all the work — ${verdict("invalid")}; list — ${verdict("list")}; send — ${verdict("send")}. ` +
      `Both adapters run the same procedures (REST calls them through tRPC's createCaller), so the difference is the HTTP layer: tRPC's node-http handler turns every request into a Fetch API Request (the body a ReadableStream) and writes a Fetch Response back through WHATWG streams (pipeTo); the REST adapter reads and writes node:http directly.`,
  );
  if (facts.failures.length > 0) notes.push(`ERRORS: ${facts.failures.join("; ")}`);
  else
    notes.push(
      `Verified: no errors and every answer had its expected status; after every send run the room had gained the 2xx-answered sends plus at most the ${CONNECTIONS} requests cut in flight when autocannon stopped (it closes its connections on its last tick; those requests may still commit).`,
    );
  const others = median([...results.values()].flat(), (m) => m.otherCpu);
  notes.push(
    `The machine (2 cores) is shared and was ${others >= 0.25 ? `busy: other processes kept ${percent(others)} of a core busy (median)` : `fairly quiet (others' CPU ${percent(others)} median)`}; the load generator (autocannon in the runner) competes for the same 2 cores. ${facts.serverNote} Compare within the table; the ratios are per round.`,
  );
  return {
    columns: [
      { key: "target", title: "request" },
      { key: "bytes", title: "answer bytes", align: "right" },
      { key: "requestsPerSecond", title: "req/s", align: "right" },
      { key: "p50", title: "p50 ms", align: "right" },
      { key: "p99", title: "p99 ms", align: "right" },
      { key: "vsBare", title: "× bare (req/s)", align: "right" },
      { key: "serverCpu", title: "server CPU (per req)", align: "right" },
      { key: "postgresCpu", title: "PostgreSQL CPU (per req)", align: "right" },
      { key: "clientCpu", title: "autocannon CPU (per req)", align: "right" },
      { key: "otherCpu", title: "others' CPU", align: "right" },
      { key: "errors", title: "errors", align: "right" },
    ],
    rows,
    settings: [
      `${facts.runs} runs of ${facts.seconds} s per request (autocannon 9.0.0 programmatic API, ${CONNECTIONS} connections, no pipelining, ${TIMEOUT_S} s timeout), ${facts.warmupSeconds > 0 ? `after a ${facts.warmupSeconds} s warm-up per request` : "no warm-up"}; within every round the list requests, then the send requests, then the refused ones, alternate (forward, then backward).${options.quick ? " Quick mode: 1 round of 1 s runs and no warm-up, so the first request measured also pays for the JIT: read no verdict from a quick run." : ""}`,
      `Server: Parley all-in-one (startParley, as \`npm start\` runs it: edge, auth, user, room, message and socket tier in ONE Node process, gRPC between them over loopback) on PostgreSQL ${facts.postgres} at ${new URL(POSTGRES_URL).host} (databases \`parley_bench_edge_<pid>_*\`, dropped at the end), in-memory broker and rate limiter (no REDIS_URL), logs at info to /dev/null, send rate limits raised to 10^9 per 10 s. The edge is its own node:http server with tRPC's node-http handler (nodeHTTPRequestHandler) at /trpc and the REST adapter (routes → tRPC createCaller) at /api/v1.`,
      `Requests: one registered user (Bearer access token verified on every request), one public room with ${PAGE + 10}+ messages. List: ${PAGE} newest messages (tRPC: GET with ?input={"roomId","limit":${PAGE}}; REST: GET ?limit=${PAGE}). Send: the same JSON body {"roomId","body"} every time, WITHOUT clientMsgId, so that every request is a real insert (the service picks a clientMsgId; with a fixed one every repeat would return the original message). All sends go to one room. Refused: messages.list with limit=${INVALID_LIMIT} (allowed: 1-100): the token is verified, then input validation answers 400 before any service is called: the HTTP adapter, context, auth and validation alone.`,
      `Baseline: a bare node:http server (its own process, same Node) that JSON.stringifies the edge's own REST answer (list page, sent message, 400 error) on every request and reads and JSON.parses POST bodies; no auth, no services, no database.`,
      `Cells are median (min–max) over the runs; p50/p99 from an HdrHistogram (µs) of every response; "× bare" is each run's req/s divided by the bare server's run of the same operation in the same round. CPU: median share of one core during a run, CPU time per request in brackets; "server" is the process answering (all-in-one or bare), "PostgreSQL" every process of the server (/proc), "autocannon" this runner's process. Every process is on 127.0.0.1. Pinning: ${facts.cpus ? `servers on core(s) ${facts.cpus}, autocannon on core 0` : "none"}.`,
    ],
    notes,
  };
}
