// A load-generator process holding thousands of subscriber sockets (lib/ws-swarm.ts
// starts several): it connects them in batches, counts what they receive and
// answers the runner's questions over IPC. Nothing here measures the runner's
// event loop, so the sockets of one process cannot slow the senders or probes.
import * as hdr from "hdr-histogram-js";
import { clock, Subscriber, SubscriberStats, type Dialect, type Endpoint } from "./ws-subscriber.js";

export interface SocketPlan {
  rooms: string[];
  /** Index into the command's tokens. */
  token?: number;
  sample: boolean;
  /** First endpoint to use (index into endpoints). */
  endpoint: number;
}

export type SwarmCommand =
  | { t: "clock"; id: number }
  | { t: "offset"; id: number; offsetUs: number }
  | {
      t: "connect";
      id: number;
      set: string;
      dialect: Dialect;
      endpoints: Endpoint[];
      tokens: string[];
      sockets: SocketPlan[];
      /** Upgrades in flight at once in this process. */
      concurrency: number;
      reconnect: boolean;
      expectedCloses: number[];
      subscribeRetries: number;
      timeoutMs: number;
    }
  | { t: "reset"; id: number; set: string }
  | { t: "await"; id: number; set: string; expected: Record<string, number>; timeoutMs: number }
  | { t: "collect"; id: number; set: string; expected?: Record<string, number>; heads?: Record<string, number> }
  | { t: "status"; id: number; set: string }
  | { t: "drop"; id: number; set: string; endpoint: number }
  | { t: "close"; id: number; set: string };

export interface WorkerCollected {
  sockets: number;
  live: number;
  received: number;
  /** Per socket and room: expected − received where positive, and received − expected where positive. */
  missing: number;
  extra: number;
  /** Sockets with at least one missing message. */
  socketsMissing: number;
  gaps: number;
  duplicates: number;
  /** Parley: head seq − last seq received, summed over sockets and rooms (with heads). */
  behindHead: number;
  latency: string;
  negative: number;
  errors: [string, number][];
  firstErrors: string[];
}

export interface WorkerStatus {
  sockets: number;
  live: number;
  reconnects: number;
  failedAttempts: number;
  /** Epoch ms (calibrated) of the latest time a socket became live, and of the latest loss. */
  lastLiveAtMs: number;
  lastLostAtMs: number;
  /** Sockets per endpoint index, live ones. */
  liveByEndpoint: number[];
}

interface SetState {
  subscribers: Subscriber[];
  stats: SubscriberStats;
  lastLiveAtMs: number;
  lastLostAtMs: number;
}

const sets = new Map<string, SetState>();
const setOf = (name: string): SetState => {
  let set = sets.get(name);
  if (!set) sets.set(name, (set = { subscribers: [], stats: new SubscriberStats(), lastLiveAtMs: 0, lastLostAtMs: 0 }));
  return set;
};

const send = (message: object) => process.send?.(message);
const exitIfOrphaned = () => {
  if (!process.connected) process.exit(0);
};
process.on("disconnect", exitIfOrphaned);
setInterval(exitIfOrphaned, 1_000).unref();
exitIfOrphaned();

process.on("message", (command: SwarmCommand) => {
  void handle(command).then(
    (result) => send({ t: "done", id: command.id, result }),
    (error: unknown) => send({ t: "done", id: command.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});

async function handle(command: SwarmCommand): Promise<unknown> {
  switch (command.t) {
    case "clock":
      return clock.nowUs();
    case "offset":
      clock.offsetUs = command.offsetUs;
      return;
    case "connect":
      return connect(command);
    case "reset": {
      const set = setOf(command.set);
      for (const s of set.subscribers) s.resetCounts();
      set.stats.reset();
      return;
    }
    case "await":
      return awaitDeliveries(setOf(command.set), command.expected, command.timeoutMs);
    case "collect":
      return collect(setOf(command.set), command.expected, command.heads);
    case "status":
      return status(setOf(command.set));
    case "drop": {
      // Simulated client crashes: the sockets on one endpoint drop their TCP connections.
      for (const s of setOf(command.set).subscribers) if (s.endpointIndex === command.endpoint) s.ws?.destroy();
      return;
    }
    case "close":
      return close(setOf(command.set));
  }
}

async function connect(command: Extract<SwarmCommand, { t: "connect" }>): Promise<{ live: number; failed: number; ms: number }> {
  const set = setOf(command.set);
  const started = performance.now();
  let next = 0;
  let live = 0;
  let failed = 0;
  let inFlight = 0;
  const plans = command.sockets;
  return new Promise((resolve) => {
    const timer = setTimeout(finish, command.timeoutMs);
    function finish() {
      clearTimeout(timer);
      resolve({ live, failed, ms: performance.now() - started });
    }
    const settle = () => {
      inFlight--;
      if (live + failed === plans.length) finish();
      else pump();
    };
    const pump = () => {
      while (inFlight < command.concurrency && next < plans.length) {
        const plan = plans[next++]!;
        let settled = false;
        const subscriber = new Subscriber(
          {
            dialect: command.dialect,
            endpoints: command.endpoints,
            rooms: plan.rooms,
            token: plan.token === undefined ? undefined : command.tokens[plan.token],
            sample: plan.sample,
          },
          {
            stats: set.stats,
            reconnect: command.reconnect,
            subscribeRetries: command.subscribeRetries,
            expectedCloses: command.expectedCloses,
            onLive(_s, failure) {
              if (failure === undefined) set.lastLiveAtMs = Math.max(set.lastLiveAtMs, clock.nowUs() / 1000);
              if (settled) return;
              settled = true;
              if (failure === undefined) live++;
              else failed++;
              settle();
            },
            onLost() {
              set.lastLostAtMs = Math.max(set.lastLostAtMs, clock.nowUs() / 1000);
            },
          },
          plan.endpoint,
        );
        set.subscribers.push(subscriber);
        inFlight++;
        subscriber.connect();
      }
    };
    if (plans.length === 0) finish();
    else pump();
  });
}

function missingFor(set: SetState, expected: Record<string, number>): boolean {
  for (const s of set.subscribers) {
    const rooms = s.spec.rooms;
    for (let i = 0; i < rooms.length; i++) if (s.counts[i]! < (expected[rooms[i]!] ?? 0)) return true;
  }
  return false;
}

async function awaitDeliveries(set: SetState, expected: Record<string, number>, timeoutMs: number): Promise<{ done: boolean; ms: number }> {
  const started = performance.now();
  while (missingFor(set, expected)) {
    if (performance.now() - started > timeoutMs) return { done: false, ms: performance.now() - started };
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { done: true, ms: performance.now() - started };
}

function collect(set: SetState, expected?: Record<string, number>, heads?: Record<string, number>): WorkerCollected {
  const result: WorkerCollected = {
    sockets: set.subscribers.length,
    live: 0,
    received: 0,
    missing: 0,
    extra: 0,
    socketsMissing: 0,
    gaps: 0,
    duplicates: 0,
    behindHead: 0,
    latency: hdr.encodeIntoCompressedBase64(set.stats.latency),
    negative: set.stats.negative,
    errors: [...set.stats.errors],
    firstErrors: set.stats.firstErrors,
  };
  for (const s of set.subscribers) {
    if (s.live) result.live++;
    result.received += s.count;
    result.gaps += s.gaps;
    result.duplicates += s.duplicates;
    let missed = 0;
    s.spec.rooms.forEach((room, i) => {
      if (expected) {
        const want = expected[room] ?? 0;
        const got = s.counts[i]!;
        if (got < want) missed += want - got;
        else result.extra += got - want;
      }
      if (heads && heads[room] !== undefined) result.behindHead += Math.max(0, heads[room]! - s.lastSeq[i]!);
    });
    result.missing += missed;
    if (missed > 0) result.socketsMissing++;
  }
  return result;
}

function status(set: SetState): WorkerStatus {
  const result: WorkerStatus = { sockets: set.subscribers.length, live: 0, reconnects: 0, failedAttempts: 0, lastLiveAtMs: set.lastLiveAtMs, lastLostAtMs: set.lastLostAtMs, liveByEndpoint: [] };
  for (const s of set.subscribers) {
    if (s.live) {
      result.live++;
      result.liveByEndpoint[s.endpointIndex] = (result.liveByEndpoint[s.endpointIndex] ?? 0) + 1;
    }
    result.reconnects += s.reconnects;
    result.failedAttempts += s.failedAttempts;
  }
  return result;
}

async function close(set: SetState): Promise<void> {
  for (const s of set.subscribers) s.close();
  const deadline = performance.now() + 5_000;
  while (set.subscribers.some((s) => s.ws && s.ws.state !== 3) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (const s of set.subscribers) if (s.ws && s.ws.state !== 3) s.ws.destroy();
  set.subscribers = [];
  set.stats.reset();
}
