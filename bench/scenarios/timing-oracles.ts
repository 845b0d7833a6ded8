// timing-oracles: whether the time of an answer tells what the answer hides. A wrong password
// for an existing account against a login nobody has, and GET /rooms/:id, GET /rooms/:id/members
// and POST /rooms/:id/join on a private room the caller is not in against a random room id:
// each pair has the same status and body, and must take the same time.
import { num, spreadText } from "../lib/format.js";
import { machineCoresBusy, machineCpuSample } from "../lib/machine.js";
import { withCleanup, type BenchOptions, type Cleanup, type Row, type Scenario, type ScenarioReport } from "../lib/scenario.js";
import { spread } from "../lib/stats.js";
import { startTargetProcess } from "../lib/target-process.js";

const PASSWORD = "correct horse battery staple";
const TIMEOUT_MS = 30_000;

interface Request {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  token?: string;
}

interface Pair {
  label: string;
  /** What is hidden (existing account, private room) and what does not exist. */
  hidden: Request;
  missing: Request;
  status: number;
}

export const timingOracles: Scenario = {
  name: "timing-oracles",
  description:
    "Median answer time through the edge (all-in-one, embedded) of a wrong password for an existing account vs an unknown login, and of a private room one is not in vs a random id (GET /rooms/:id, /members, POST /join): the pairs must not differ",
  run: withCleanup(measure),
};

async function measure(options: BenchOptions, cleanup: Cleanup): Promise<ScenarioReport> {
  const samples = options.quick ? 20 : 150;
  const warmup = options.quick ? 5 : 30;
  const runs = options.quick ? 1 : options.runs;

  options.log("starting Parley all-in-one (embedded PGlite, in-memory broker)");
  const parley = await startTargetProcess({
    name: "parley all-in-one",
    module: new URL("../servers/all-in-one.ts", import.meta.url),
    env: {
      DATABASE_URL: "",
      REDIS_URL: "",
      LOG_LEVEL: "info",
      // Limits out of the way: hundreds of failed logins from one address and for one account.
      LOGIN_FAILURES_PER_ACCOUNT: "1000000000",
      LOGIN_FAILURES_PER_ADDRESS: "1000000000",
      RATE_LOGIN_PER_MINUTE: "1000000000",
      RATE_REGISTER_PER_HOUR: "1000",
      ACCESS_TOKEN_TTL_SECONDS: "7200",
    },
    startTimeoutMs: 180_000,
  });
  cleanup.push(() => parley.stop());
  const edge = `http://${parley.address}`;

  const send = async ({ method, path, body, token }: Request) => {
    const response = await fetch(`${edge}${path}`, {
      method,
      headers: { ...(body !== undefined && { "content-type": "application/json" }), ...(token && { authorization: `Bearer ${token}` }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    return { status: response.status, text: await response.text() };
  };
  const register = async (username: string) => {
    const { status, text } = await send({ method: "POST", path: "/api/v1/auth/register", body: { email: `${username}@example.com`, username, password: PASSWORD } });
    if (status !== 201) throw new Error(`register: HTTP ${status} ${text}`);
    return (JSON.parse(text) as { accessToken: string }).accessToken;
  };
  const tag = `${process.pid}_${Date.now().toString(36)}`;
  const ownerToken = await register(`bench_owner_${tag}`);
  const outsiderToken = await register(`bench_outsider_${tag}`);
  const created = await send({ method: "POST", path: "/api/v1/rooms", body: { name: "bench private", visibility: "private" }, token: ownerToken });
  if (created.status !== 201) throw new Error(`create room: HTTP ${created.status} ${created.text}`);
  const privateRoom = (JSON.parse(created.text) as { id: string }).id;
  // Same version and variant as a room id; a fresh one per run would not change the plan.
  const randomRoom = crypto.randomUUID();

  const wrongLogin = (login: string): Request => ({ method: "POST", path: "/api/v1/auth/login", body: { login, password: "wrong wrong wrong" } });
  const asOutsider = (method: Request["method"], path: string): Request => ({ method, path, token: outsiderToken });
  const pairs: Pair[] = [
    { label: "POST /auth/login, wrong password", hidden: wrongLogin(`bench_owner_${tag}`), missing: wrongLogin(`bench_nobody_${tag}`), status: 401 },
    { label: "GET /rooms/:id", hidden: asOutsider("GET", `/api/v1/rooms/${privateRoom}`), missing: asOutsider("GET", `/api/v1/rooms/${randomRoom}`), status: 404 },
    {
      label: "GET /rooms/:id/members",
      hidden: asOutsider("GET", `/api/v1/rooms/${privateRoom}/members`),
      missing: asOutsider("GET", `/api/v1/rooms/${randomRoom}/members`),
      status: 404,
    },
    {
      label: "POST /rooms/:id/join",
      hidden: asOutsider("POST", `/api/v1/rooms/${privateRoom}/join`),
      missing: asOutsider("POST", `/api/v1/rooms/${randomRoom}/join`),
      status: 404,
    },
    // The method's own bias: two sides that do the same work by construction.
    {
      label: "control: GET /rooms/:id, two random ids",
      hidden: asOutsider("GET", `/api/v1/rooms/${crypto.randomUUID()}`),
      missing: asOutsider("GET", `/api/v1/rooms/${randomRoom}`),
      status: 404,
    },
  ];

  const failures: string[] = [];
  /** One answer's time in ms; a wrong status or a body that differs from its twin's is an error. */
  const timed = async (request: Request, status: number, bodies: Set<string>) => {
    const start = process.hrtime.bigint();
    const answer = await send(request);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (answer.status !== status) failures.push(`${request.method} ${request.path}: HTTP ${answer.status}, expected ${status}`);
    bodies.add(answer.text);
    return ms;
  };

  // Per pair, per run: the median of each side and their difference.
  const results = pairs.map(() => ({ hidden: [] as number[], missing: [] as number[], difference: [] as number[], bodies: new Set<string>() }));
  const machineBefore = machineCpuSample();
  for (let run = 0; run < runs; run++) {
    for (const [p, pair] of pairs.entries()) {
      const result = results[p]!;
      for (let i = 0; i < warmup; i++) {
        await timed(pair.hidden, pair.status, result.bodies);
        await timed(pair.missing, pair.status, result.bodies);
      }
      const hidden: number[] = [];
      const missing: number[] = [];
      // Alternating which goes first, so that whatever the previous call left behind hits both alike.
      for (let i = 0; i < samples; i++) {
        if (i % 2 === 0) {
          hidden.push(await timed(pair.hidden, pair.status, result.bodies));
          missing.push(await timed(pair.missing, pair.status, result.bodies));
        } else {
          missing.push(await timed(pair.missing, pair.status, result.bodies));
          hidden.push(await timed(pair.hidden, pair.status, result.bodies));
        }
      }
      const h = spread(hidden).median;
      const m = spread(missing).median;
      // Of the pairs of neighbouring calls: what the machine was doing drifts slower than one pair.
      const d = spread(hidden.map((value, j) => value - missing[j]!)).median;
      result.hidden.push(h);
      result.missing.push(m);
      result.difference.push(d);
      options.log(`${pair.label} run ${run + 1}: hidden ${num(h)} ms, missing ${num(m)} ms, paired difference ${num(d)} ms`);
    }
  }
  const others = machineCoresBusy(machineBefore, machineCpuSample());

  const rows: Row[] = pairs.map((pair, p) => {
    const result = results[p]!;
    if (result.bodies.size !== 1) failures.push(`${pair.label}: ${result.bodies.size} different bodies, expected one`);
    const ms = (value: number) => num(value);
    return {
      request: pair.label,
      hidden: spreadText(spread(result.hidden), ms),
      missing: spreadText(spread(result.missing), ms),
      difference: spreadText(spread(result.difference), ms),
      status: String(pair.status),
    };
  });
  const notes = [
    "hidden: an existing account (wrong password) or a private room the caller is not in; missing: a login nobody has or a random room id. difference: the median of hidden − missing over the pairs of neighbouring calls of a run (a difference that keeps one sign in every run is real; one that changes sign is noise).",
    "Each cell is the median over runs (min–max) of each run's median, in ms, measured from this process (fetch over one keep-alive connection, one request in flight).",
    `Machine CPU (all processes, this one and the server included) averaged ${num(others)} cores busy of 2 during the runs: a busy machine widens the spread, not the difference between sides of a pair, which share every moment.`,
  ];
  if (failures.length > 0) notes.push(`ERRORS: ${[...new Set(failures)].slice(0, 5).join("; ")}`);
  return {
    columns: [
      { key: "request", title: "request" },
      { key: "status", title: "status", align: "right" },
      { key: "hidden", title: "hidden, ms", align: "right" },
      { key: "missing", title: "missing, ms", align: "right" },
      { key: "difference", title: "difference, ms", align: "right" },
    ],
    rows,
    settings: [
      `${samples} samples of each side per run after ${warmup} warm-up pairs, ${runs} run(s); the two sides alternate call by call (which goes first alternates too).`,
      "Parley all-in-one (`servers/all-in-one.ts`) on embedded PGlite in memory, in-memory broker and rate limiter, logs at info; login limits raised out of the way; argon2id at the default cost (m=19456 KiB, t=2, p=1).",
    ],
    notes,
  };
}
