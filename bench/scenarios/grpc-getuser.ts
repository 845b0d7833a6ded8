// grpc-getuser: GetUser calls per second and latency through the service kit,
// next to a bare @grpc/grpc-js echo of the same payload, measured side by side.
import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { createServiceClient } from "@parley/kit";
import { GetUserRequestSchema, GetUserResponseSchema, UserService } from "@parley/proto/user/v1/user_pb";
import { num, percent, spreadText } from "../lib/format.js";
import { closedLoop } from "../lib/load.js";
import { machineCoresBusy, machineCpuSample } from "../lib/machine.js";
import type { BenchOptions, Row, Scenario, ScenarioReport } from "../lib/scenario.js";
import { percentileMs, spread } from "../lib/stats.js";
import { userMetadata } from "../lib/parley-services.js";
import { benchInternalAuth, cpuBetween, pinning, startTargetProcess, type TargetProcess } from "../lib/target-process.js";

const CONCURRENCY = [16, 64];
const USERS = 8;
const DEADLINE_MS = 5_000;

interface Target {
  key: string;
  label: string;
  server: TargetProcess;
  /** One call; rejects on any failure. */
  call(i: number): Promise<unknown>;
  /** One call whose answer is checked, before anything is measured. */
  check(): Promise<void>;
  close(): void;
}

interface Measurement {
  callsPerSecond: number;
  p50: number;
  p99: number;
  serverCpu: number;
  clientCpu: number;
  /** Cores used meanwhile by everything else on the machine (other people's work on a shared machine). */
  otherCpu: number;
  errors: number;
  firstError?: unknown;
}

export const grpcGetUser: Scenario = {
  name: "grpc-getuser",
  description:
    "GetUser calls/s and p50/p99 latency through the service kit (real user service on embedded PGlite), next to a bare @grpc/grpc-js echo of the same payload",
  async run(options) {
    const servers: TargetProcess[] = [];
    const targets: Target[] = [];
    try {
      return await measure(options, servers, targets);
    } finally {
      for (const target of targets) target.close();
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
};

async function measure(options: BenchOptions, servers: TargetProcess[], targets: Target[]): Promise<ScenarioReport> {
  const cpus = options.pin ? pinning(availableParallelism()).servers : undefined;
  const start = (name: string, file: string, env: Record<string, string> = {}) =>
    startTargetProcess({ name, module: new URL(`../servers/${file}`, import.meta.url), env, cpus }).then((server) => {
      servers.push(server);
      return server;
    });
  options.log("starting servers (user service on PGlite takes a few seconds)");
  const [user, userSilent, canned, echo] = await Promise.all([
    start("user service", "kit-user.ts", { LOG_LEVEL: "info" }),
    start("user service, logs off", "kit-user.ts", { LOG_LEVEL: "silent" }),
    start("kit, canned GetUser", "kit-canned.ts", { LOG_LEVEL: "info" }),
    start("bare grpc-js echo", "grpc-echo.ts"),
  ]);

  // A few users, created through the public API; every call asks for one of them in turn.
  const ids = Array.from({ length: USERS }, () => randomUUID());
  for (const server of [user, userSilent]) {
    const client = createServiceClient(UserService, server.address, { internalAuth: benchInternalAuth });
    for (const [n, id] of ids.entries()) {
      const username = `bench_user_${String(n + 1).padStart(2, "0")}`;
      await client.createUser({ id, username, email: `${username}@example.com`, displayName: "" });
    }
  }
  const requests = ids.map((id) => Buffer.from(toBinary(GetUserRequestSchema, create(GetUserRequestSchema, { id }))));

  const kitClient = createServiceClient(UserService, user.address, { internalAuth: benchInternalAuth });
  targets.push({
    key: "kit",
    label: "kit client → user service",
    server: user,
    call: (i) => kitClient.getUser({ id: ids[i % USERS]! }),
    async check() {
      const { user: found } = await kitClient.getUser({ id: ids[0]! });
      if (found?.id !== ids[0]) throw new Error("kit client → user service: wrong user");
    },
    close() {},
  });
  const getUserPath = `/${UserService.typeName}/${UserService.method.getUser.name}`;
  const checkUser = (label: string) => (response: Buffer, i: number) => {
    if (fromBinary(GetUserResponseSchema, response).user?.id !== ids[i % USERS]) throw new Error(`${label}: wrong user`);
  };
  const credential = await userMetadata();
  const plain = (key: string, label: string, server: TargetProcess) =>
    bytesTarget(key, label, server, getUserPath, requests, checkUser(label), credential);
  const plainToUser = plain("grpc-user", "grpc-js client → user service", user);
  targets.push(
    plainToUser,
    plain("grpc-user-silent", "grpc-js client → user service, logs off", userSilent),
    plain("grpc-canned", "grpc-js client → kit, canned GetUser (no database)", canned),
  );
  // The echo carries the user service's real GetUser responses, so its answers are exactly as long.
  const responses: Buffer[] = [];
  for (const i of ids.keys()) responses.push((await plainToUser.call(i)) as Buffer);
  targets.push(
    bytesTarget("echo", "grpc-js client → bare grpc-js echo", echo, String(echo.info.path), responses, (response, i) => {
      if (!response.equals(responses[i % USERS]!)) throw new Error("echo: bytes differ");
    }, credential),
  );
  for (const target of targets) await target.check();

  options.log(`warming up each target for ${options.warmupMs} ms`);
  for (const target of targets) {
    const warm = await closedLoop({ concurrency: Math.max(...CONCURRENCY), durationMs: options.warmupMs, call: target.call });
    if (warm.errors > 0) throw new Error(`${target.label}: ${warm.errors} errors while warming up: ${String(warm.firstError)}`);
  }

  // Rounds alternate the targets (ABCDE, then EDCBA, ...) so that noise and drift hit all of them.
  const results = new Map<string, Measurement[]>();
  for (let round = 0; round < options.runs; round++) {
    for (const concurrency of CONCURRENCY) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        const m = await measureOnce(target, concurrency, options.durationMs);
        const key = `${target.key}@${concurrency}`;
        results.set(key, [...(results.get(key) ?? []), m]);
        options.log(
          `run ${round + 1}/${options.runs}  ${String(concurrency).padStart(3)} in flight  ${target.label.padEnd(52)} ${num(m.callsPerSecond).padStart(7)} calls/s  p50 ${num(m.p50)} ms  p99 ${num(m.p99)} ms  CPU: server ${percent(m.serverCpu)} client ${percent(m.clientCpu)} others ${percent(m.otherCpu)}${m.errors ? `  ${m.errors} ERRORS` : ""}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }
  return report(options, targets, results, { requestBytes: requests[0]!.length, responseBytes: responses[0]!.length, cpus });
}

async function measureOnce(target: Target, concurrency: number, durationMs: number): Promise<Measurement> {
  const before = await target.server.cpuSample();
  const machineBefore = machineCpuSample();
  const load = await closedLoop({ concurrency, durationMs, call: target.call });
  const machineAfter = machineCpuSample();
  const after = await target.server.cpuSample();
  const serverCpu = cpuBetween(before, after);
  return {
    callsPerSecond: (load.calls / load.elapsedMs) * 1000,
    p50: percentileMs(load.latency, 50),
    p99: percentileMs(load.latency, 99),
    serverCpu,
    clientCpu: load.clientCpu,
    otherCpu: Math.max(0, machineCoresBusy(machineBefore, machineAfter) - serverCpu - load.clientCpu),
    errors: load.errors,
    firstError: load.firstError,
  };
}

/** A plain grpc-js client sending ready-made bytes and taking the answer as bytes (no protobuf work). */
function bytesTarget(
  key: string,
  label: string,
  server: TargetProcess,
  path: string,
  payloads: Buffer[],
  verify: (response: Buffer, i: number) => void,
  /** The internal credential a Parley service asks of every call (the echo server ignores it). */
  metadata: grpc.Metadata,
): Target {
  const client = new grpc.Client(server.address, grpc.credentials.createInsecure());
  const bytes = (value: Buffer) => value;
  const call = (i: number) =>
    new Promise<Buffer>((resolve, reject) => {
      client.makeUnaryRequest(path, bytes, bytes, payloads[i % payloads.length]!, metadata, { deadline: Date.now() + DEADLINE_MS }, (error, value) =>
        error || !value ? reject(error ?? new Error("no response")) : resolve(value),
      );
    });
  return {
    key,
    label,
    server,
    call,
    async check() {
      for (const i of payloads.keys()) verify(await call(i), i);
    },
    close: () => client.close(),
  };
}

/** Which process had more CPU, and whether it had a whole core. */
function bottleneck(server: number, client: number): string {
  const busier = server >= client ? `the server (${percent(server)} of a core)` : `the load generator (${percent(client)} of a core)`;
  return Math.max(server, client) >= 0.9 ? `${busier}, saturated` : busier;
}

const median = (runs: Measurement[], value: (m: Measurement) => number) => spread(runs.map(value)).median;
/** Median CPU time per call, ms. */
const perCall = (runs: Measurement[], cpu: (m: Measurement) => number) => median(runs, (m) => (cpu(m) * 1000) / m.callsPerSecond);

/** "98% (2.71 ms)": median share of a core, and median CPU time per call. */
function cpuText(runs: Measurement[], cpu: (m: Measurement) => number): string {
  return `${percent(median(runs, cpu))} (${num(perCall(runs, cpu))} ms)`;
}

function report(
  options: BenchOptions,
  targets: Target[],
  results: Map<string, Measurement[]>,
  facts: { requestBytes: number; responseBytes: number; cpus: string | undefined },
): ScenarioReport {
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const concurrency of CONCURRENCY) {
    const baseline = results.get(`echo@${concurrency}`)!;
    for (const target of targets) {
      const runs = results.get(`${target.key}@${concurrency}`)!;
      // Ratio per round (this target's run against the echo run next to it), then their spread.
      const ratios = runs.map((m, round) => m.callsPerSecond / baseline[round]!.callsPerSecond);
      rows.push({
        target: target.label,
        inFlight: concurrency,
        callsPerSecond: spreadText(spread(runs.map((m) => m.callsPerSecond))),
        p50: spreadText(spread(runs.map((m) => m.p50))),
        p99: spreadText(spread(runs.map((m) => m.p99))),
        vsEcho: target.key === "echo" ? "1" : spreadText(spread(ratios), (v) => v.toFixed(2)),
        serverCpu: cpuText(runs, (m) => m.serverCpu),
        clientCpu: cpuText(runs, (m) => m.clientCpu),
        otherCpu: percent(median(runs, (m) => m.otherCpu)),
        errors: runs.reduce((sum, m) => sum + m.errors, 0),
      });
      const failed = runs.find((m) => m.errors > 0);
      if (failed) notes.push(`ERRORS in ${target.label} at ${concurrency} in flight, first: ${String(failed.firstError)}`);
    }
    const kit = results.get(`kit@${concurrency}`)!;
    const kitRatio = spread(kit.map((m, round) => m.callsPerSecond / baseline[round]!.callsPerSecond));
    const ratioText = `${kitRatio.median.toFixed(2)}× (${kitRatio.min.toFixed(2)}–${kitRatio.max.toFixed(2)})`;
    const kitServer = perCall(kit, (m) => m.serverCpu);
    const echoServer = perCall(baseline, (m) => m.serverCpu);
    const kitClient = perCall(kit, (m) => m.clientCpu);
    const echoClient = perCall(baseline, (m) => m.clientCpu);
    notes.push(
      `At ${concurrency} in flight, GetUser through the kit (kit client → user service) did ${num(median(kit, (m) => m.callsPerSecond))} calls/s, ` +
        `${ratioText} the bare grpc-js echo's ${num(median(baseline, (m) => m.callsPerSecond))} calls/s. ` +
        `Per call it cost the server ${num(kitServer)} ms of CPU (echo: ${num(echoServer)} ms, ${num(kitServer / echoServer)}×) and the client ${num(kitClient)} ms (plain grpc-js client on the echo: ${num(echoClient)} ms, ${num(kitClient / echoClient)}×). ` +
        `Busiest: ${bottleneck(median(kit, (m) => m.serverCpu), median(kit, (m) => m.clientCpu))} for the kit, ${bottleneck(median(baseline, (m) => m.serverCpu), median(baseline, (m) => m.clientCpu))} for the echo; ` +
        `other processes used ${percent(median([...kit, ...baseline], (m) => m.otherCpu))} of a core meanwhile.`,
    );
  }
  const others = median([...results.values()].flat(), (m) => m.otherCpu);
  if (others >= 0.25) {
    notes.push(
      `The machine was shared during this run: other processes kept ${percent(others)} of a core busy (median), so every process here got less than its core. ` +
        `Calls/s and latencies are lower than on a quiet machine, and even CPU time per call grows under contention; the side-by-side ratios are the steadier numbers.`,
    );
  }
  return {
    columns: [
      { key: "target", title: "client → server" },
      { key: "inFlight", title: "in flight", align: "right" },
      { key: "callsPerSecond", title: "calls/s", align: "right" },
      { key: "p50", title: "p50 ms", align: "right" },
      { key: "p99", title: "p99 ms", align: "right" },
      { key: "vsEcho", title: "× bare echo (calls/s)", align: "right" },
      { key: "serverCpu", title: "server CPU (per call)", align: "right" },
      { key: "clientCpu", title: "client CPU (per call)", align: "right" },
      { key: "otherCpu", title: "others' CPU", align: "right" },
      { key: "errors", title: "errors", align: "right" },
    ],
    rows,
    settings: [
      `${options.runs} runs of ${options.durationMs / 1000} s per target and in-flight count (${CONCURRENCY.join(" and ")} calls in flight, closed loop, one HTTP/2 connection per client), after a ${options.warmupMs / 1000} s warm-up per target; targets alternate within every round (forward, then backward) so noise hits them all.`,
      `Cells are median (min–max) over the runs; p50/p99 come from an HdrHistogram of every call of a run; "× bare echo" is each run's calls/s divided by the echo run beside it in the same round. CPU is the median share of one core used during a run by the server process and by the load generator, with the CPU time per call in brackets (which process pays for what), and the cores used meanwhile by every other process of the machine together ("others'", from /proc/stat, includes the idle servers of the other targets; 100% is one core's worth of someone else's work).`,
      `Every server is its own Node process on 127.0.0.1; the load generator is the runner's process. Pinning: ${facts.cpus ? `servers on core(s) ${facts.cpus}, load generator on core 0 (taskset)` : "none (the OS schedules the processes over the cores)"}.`,
      `Payload: GetUser request ${facts.requestBytes} bytes, response ${facts.responseBytes} bytes (${USERS} seeded users asked in turn, no x-user-id so no email); the echo sends and returns those response bytes. Every call has a ${DEADLINE_MS / 1000} s deadline.`,
      `Servers: "user service" is @parley/user launched as in production (kit gRPC server, zod validation, MikroORM on in-memory PGlite, pino logs at info to /dev/null); "logs off" is the same with LOG_LEVEL=silent; "kit, canned" is the kit's createGrpcServer with a GetUser returning a fixed profile (logs at info, no database); "bare echo" is a plain grpc-js server with a hand-made method returning the request bytes.`,
      `Clients: "kit client" is createServiceClient (@connectrpc/connect-node gRPC transport, protobuf-es encode/decode, deadline interceptor); "grpc-js client" is a plain @grpc/grpc-js Client sending pre-encoded bytes and keeping the answer as bytes. Rows with the same client differ only by server; the first two rows differ only by client.`,
    ],
    notes,
  };
}
