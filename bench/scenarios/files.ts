// files: upload and download throughput of a 5 MB and a 50 MB file through the edge (issue 19),
// and the edge process's memory meanwhile (RSS and heap sampled during every transfer), side by
// side in one run: the edge streams, so its peak must not grow with the file.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { availableParallelism } from "node:os";
import { uploadFile } from "@parley/client";
import { num, percent, spreadText } from "../lib/format.js";
import { machineCoresBusy, machineCpuSample } from "../lib/machine.js";
import { databaseUrl, POSTGRES_URL, serverVersion, withBenchDatabases } from "../lib/postgres.js";
import type { BenchOptions, Row, Scenario, ScenarioReport } from "../lib/scenario.js";
import { spread } from "../lib/stats.js";
import { cpuBetween, pinning, startTargetProcess, type MemorySample, type TargetProcess } from "../lib/target-process.js";

const MB = 1_000_000;
const MiB = 1024 * 1024;
const SIZES = [5 * MB, 50 * MB];
/** How often the edge's memory is read during a transfer. */
const SAMPLE_EVERY_MS = 25;

type Direction = "upload" | "download";

interface Transfer {
  mbPerSecond: number;
  peak: MemorySample;
  /** The edge's CPU during the transfer, as a share of one core. */
  edgeCpu: number;
  otherCpu: number;
}

export const files: Scenario = {
  name: "files",
  description:
    "Upload and download throughput of a 5 MB and a 50 MB file through the edge (its own process, in front of the all-in-one on PostgreSQL, disk storage), and the edge's RSS and heap sampled during each transfer: its peak must not grow with the file",
  run: withBenchDatabases("files", measure),
};

async function measure(options: BenchOptions, base: string, servers: TargetProcess[], closers: (() => Promise<void> | void)[]): Promise<ScenarioReport> {
  const cpus = options.pin ? pinning(availableParallelism()).servers : undefined;
  const rounds = options.quick ? 1 : options.runs;
  const storage = await mkdtemp(join(tmpdir(), "parley-bench-files-"));
  closers.push(() => rm(storage, { recursive: true, force: true }));
  const limits = {
    RATE_SEND_PER_10S_USER: "1000000000",
    RATE_SEND_PER_10S_ADDRESS: "1000000000",
    RATE_READ_PER_10S_USER: "1000000000",
    RATE_WRITE_PER_10S_USER: "1000000000",
    RATE_REGISTER_PER_HOUR: "1000",
    ACCESS_TOKEN_TTL_SECONDS: "7200",
  };

  options.log(`starting Parley all-in-one on PostgreSQL (${base}_*), files on disk in ${storage}`);
  const parley = await startTargetProcess({
    name: "parley all-in-one",
    module: new URL("../servers/all-in-one.ts", import.meta.url),
    env: {
      DATABASE_URL: databaseUrl(base),
      REDIS_URL: "",
      LOG_LEVEL: "info",
      FILES_STORAGE: "disk",
      FILES_DIR: join(storage, "files"),
      FILES_TEMP_DIR: join(storage, "tmp"),
      FILES_MAX_BYTES: String(64 * MiB),
      LINK_PREVIEWS: "off",
      ...limits,
    },
    cpus,
    startTimeoutMs: 180_000,
  });
  servers.push(parley);
  const addresses = (parley.info.addresses ?? {}) as Record<string, string>;
  options.log("starting the edge in its own process");
  const edgeProcess = await startTargetProcess({
    name: "edge",
    module: new URL("../servers/edge.ts", import.meta.url),
    env: { LOG_LEVEL: "info", REDIS_URL: "", ...limits, BENCH_ADDRESSES: JSON.stringify(addresses) },
    cpus,
  });
  servers.push(edgeProcess);
  const edge = `http://${edgeProcess.address}`;

  const api = async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await fetch(`${edge}${path}`, {
      method,
      headers: { ...(body !== undefined && { "content-type": "application/json" }), ...(token && { authorization: `Bearer ${token}` }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const username = `bench_files_${process.pid}`;
  const { accessToken } = (await api("POST", "/api/v1/auth/register", { email: `${username}@example.com`, username, password: "correct horse battery staple" })) as { accessToken: string };
  const { id: roomId } = (await api("POST", "/api/v1/rooms", { name: "bench files", visibility: "private" }, accessToken)) as { id: string };
  // Bytes that do not compress and are not an image (no thumbnail work): the transfer itself is measured.
  const payloads = new Map(SIZES.map((size) => [size, new Blob([randomBytesOf(size)])]));
  const idle = await edgeProcess.memorySample();

  /** Runs `transfer` while sampling the edge's memory; the peak of each measure over the samples. */
  const sampled = async (size: number, transfer: () => Promise<number>): Promise<Transfer> => {
    const samples: MemorySample[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(await edgeProcess.memorySample());
        await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
      }
    })();
    const cpuBefore = await edgeProcess.cpuSample();
    const machineBefore = machineCpuSample();
    const started = performance.now();
    const bytes = await transfer();
    const elapsed = performance.now() - started;
    const cpuAfter = await edgeProcess.cpuSample();
    const machineAfter = machineCpuSample();
    sampling = false;
    await sampler;
    if (bytes !== size) throw new Error(`transferred ${bytes} bytes of ${size}`);
    const edgeCpu = cpuBetween(cpuBefore, cpuAfter);
    return {
      mbPerSecond: size / MB / (elapsed / 1000),
      peak: {
        rss: Math.max(...samples.map((s) => s.rss)),
        heapUsed: Math.max(...samples.map((s) => s.heapUsed)),
        external: Math.max(...samples.map((s) => s.external)),
      },
      edgeCpu,
      otherCpu: Math.max(0, machineCoresBusy(machineBefore, machineAfter) - edgeCpu),
    };
  };

  const results = new Map<string, Transfer[]>();
  const record = (size: number, direction: Direction, t: Transfer) => {
    const key = `${size}:${direction}`;
    results.set(key, [...(results.get(key) ?? []), t]);
  };
  let samples = 0;
  for (let round = 0; round < rounds; round++) {
    // Sizes alternate (forward, then backward) so that the machine's noise hits both.
    const order = round % 2 === 0 ? SIZES : [...SIZES].reverse();
    for (const size of order) {
      options.log(`round ${round + 1}/${rounds}: ${size / MB} MB up and down`);
      let fileId = "";
      const up = await sampled(size, async () => {
        const file = await uploadFile({ baseUrl: edge, roomId, file: payloads.get(size)!, name: `bench-${size}.bin`, token: accessToken });
        fileId = file.id;
        return file.size;
      });
      record(size, "upload", up);
      const down = await sampled(size, async () => {
        const response = await fetch(`${edge}/api/v1/files/${fileId}/content`, { headers: { authorization: `Bearer ${accessToken}` }, signal: AbortSignal.timeout(600_000) });
        if (response.status !== 200 || !response.body) throw new Error(`download: HTTP ${response.status}`);
        let received = 0;
        for await (const chunk of response.body) received += (chunk as Uint8Array).byteLength;
        return received;
      });
      record(size, "download", down);
      samples += 2;
      await api("DELETE", `/api/v1/files/${fileId}`, undefined, accessToken).catch(() => undefined); // 204: no JSON
    }
  }

  const mib = (bytes: number) => num(bytes / MiB);
  const rows: Row[] = [];
  for (const direction of ["upload", "download"] as const) {
    for (const size of SIZES) {
      const runs = results.get(`${size}:${direction}`) ?? [];
      rows.push({
        what: `${direction}, ${size / MB} MB`,
        throughput: spreadText(spread(runs.map((r) => r.mbPerSecond))),
        rss: spreadText(spread(runs.map((r) => r.peak.rss / MiB))),
        rssGrowth: spreadText(spread(runs.map((r) => (r.peak.rss - idle.rss) / MiB))),
        heap: spreadText(spread(runs.map((r) => r.peak.heapUsed / MiB))),
        external: spreadText(spread(runs.map((r) => r.peak.external / MiB))),
        edgeCpu: percent(spread(runs.map((r) => r.edgeCpu)).median),
        otherCpu: percent(spread(runs.map((r) => r.otherCpu)).median),
      });
    }
  }
  const peakOf = (size: number) => Math.max(...SIZES.filter((s) => s === size).flatMap((s) => [...(results.get(`${s}:upload`) ?? []), ...(results.get(`${s}:download`) ?? [])]).map((r) => r.peak.rss));
  const small = peakOf(SIZES[0]!);
  const large = peakOf(SIZES[1]!);
  const median = (direction: Direction, size: number) => spread((results.get(`${size}:${direction}`) ?? []).map((r) => r.mbPerSecond)).median;
  return {
    columns: [
      { key: "what", title: "transfer" },
      { key: "throughput", title: "MB/s", align: "right" },
      { key: "rss", title: "edge peak RSS MiB", align: "right" },
      { key: "rssGrowth", title: "over idle MiB", align: "right" },
      { key: "heap", title: "edge peak heap MiB", align: "right" },
      { key: "external", title: "edge peak external MiB", align: "right" },
      { key: "edgeCpu", title: "edge CPU", align: "right" },
      { key: "otherCpu", title: "others' CPU", align: "right" },
    ],
    rows,
    settings: [
      `${rounds} rounds; each round uploads then downloads a 5 MB and a 50 MB file (random bytes: no thumbnail, nothing compresses), sizes alternating forward and backward between rounds.`,
      "Upload: @parley/client uploadFile from this runner's process (Node fetch, a streamed multipart body, X-File-Size), POST /api/v1/rooms/{id}/files → FileService.UploadFile (client-streaming gRPC, chunks as busboy gives them, at most 1 MiB) → a temp file, hashed and sniffed, then moved into disk storage. Download: GET /api/v1/files/{id}/content with a bearer token → FileService.ReadFile (256 KiB chunks) → the response, read and discarded by the runner.",
      `The edge runs alone in its own Node process (bench/servers/edge.ts, logs at info to /dev/null) in front of the Parley all-in-one process (services on PostgreSQL ${POSTGRES_URL.replace(/\/\/[^@]*@/, "//")}, files on disk in a temp dir), so its memory and CPU are its own. Its memory (process.memoryUsage(): rss, heapUsed, external) is read every ${SAMPLE_EVERY_MS} ms during each transfer (${samples} transfers); idle RSS before the first transfer: ${mib(idle.rss)} MiB, heap ${mib(idle.heapUsed)} MiB.`,
      "Cells are median (min–max) over the rounds; MB/s is 10^6 bytes per second of the file (the multipart envelope aside), from the request's start to the last byte of the answer. Edge CPU is its share of one core during the transfer; others' CPU is every other process of the machine meanwhile (/proc/stat: the all-in-one, PostgreSQL, this runner, and the other helpers' work).",
      "Every process on 127.0.0.1. Pinning: none unless --pin.",
    ],
    notes: [
      `The edge's peak RSS was ${mib(small)} MiB with the 5 MB file and ${mib(large)} MiB with the 50 MB one (largest over every transfer of each size): ${large - small <= 10 * MiB ? "no growth with a file ten times larger" : `${mib(large - small)} MiB more for a file ten times larger`}. The file passes through in chunks with backpressure both ways; it is never held whole.`,
      `Medians: upload ${num(median("upload", SIZES[0]!))} MB/s (5 MB) and ${num(median("upload", SIZES[1]!))} MB/s (50 MB); download ${num(median("download", SIZES[0]!))} MB/s and ${num(median("download", SIZES[1]!))} MB/s.`,
      "The machine (2 cores) was shared with three other helpers' work (tests, builds) during this run: throughput is lower and noisier than on a quiet machine; the memory columns are the point of the table.",
      `PostgreSQL: ${await serverVersion().catch(() => "unknown")}.`,
    ],
  };
}

/** Bytes that do not compress (a PRNG, not crypto: the bench needs volume, not secrecy). */
function randomBytesOf(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
    bytes[i + 1] = (x >>> 8) & 0xff;
    bytes[i + 2] = (x >>> 16) & 0xff;
    bytes[i + 3] = (x >>> 24) & 0xff;
  }
  return bytes;
}
