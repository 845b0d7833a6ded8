// The per-room sequencer as a unit: no uWebSockets.js, no services. The store is an array of
// messages and its reads are promises the test settles when (and whether) it likes.
import { create } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MessageSchema, type Message } from "@parley/proto/message/v1/message_pb";
import { FrameLimiter } from "../src/socket/frame-limiter.js";
import { OutgoingFrame } from "../src/socket/protocol.js";
import { RoomSequencer, type MessagePage } from "../src/socket/sequencer.js";

const ROOM = "01900000-0000-7000-8000-000000000001";

/** The room's messages as the message service stores them, seq 1..head. */
class Store {
  readonly messages: Message[] = [];
  get head(): bigint {
    return BigInt(this.messages.length);
  }
  commit(): Message {
    const seq = this.head + 1n;
    const message = create(MessageSchema, { id: `m${seq}`, roomId: ROOM, seq, body: `message ${seq}` });
    this.messages.push(message);
    return message;
  }
  page(afterSeq: bigint, limit: number): MessagePage {
    const after = this.messages.filter((m) => m.seq > afterSeq);
    return { messages: after.slice(0, limit), hasNewer: after.length > limit, lastSeq: this.head };
  }
}

interface PendingRead {
  afterSeq: bigint;
  /** Read when asked (a snapshot): it may arrive after newer messages came live. */
  page: MessagePage;
  resolve(page: MessagePage): void;
  reject(error: Error): void;
}

/** A subscriber as a client sees it: what it was sent, in the order it was sent. */
interface Client {
  subscribed: boolean;
  live: boolean;
  /** Last seq received; a resubscribe asks for what follows it (as LiveClient does). */
  lastSeen: bigint;
  session: number;
  received: bigint[];
  /** Frames other than messageCreated, by case. */
  other: string[];
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const seqOf = (frame: OutgoingFrame) => (frame.frame.frame.case === "messageCreated" ? frame.frame.frame.value.message!.seq : undefined);

/** A sequencer over a Store, with clients that fail the test on any gap, repeat or reordering. */
function harness(pageSize = 3) {
  const store = new Store();
  const reads: PendingRead[] = [];
  const clients = new Map<string, Client>();
  const violations: string[] = [];
  const receive = (id: string, frame: OutgoingFrame) => {
    const client = clients.get(id)!;
    if (!client.subscribed) violations.push(`${id} was sent a frame while not subscribed`);
    const seq = seqOf(frame);
    if (seq === undefined) return void client.other.push(frame.frame.frame.case ?? "");
    if (seq !== client.lastSeen + 1n) violations.push(`${id} got seq ${seq} after seq ${client.lastSeen}`);
    client.lastSeen = seq;
    client.received.push(seq);
  };
  const sequencer = new RoomSequencer<string>({
    pageSize,
    read: (afterSeq, limit) =>
      new Promise<MessagePage>((resolve, reject) => reads.push({ afterSeq, page: store.page(afterSeq, limit), resolve, reject })),
    output: {
      publish: (frame) => {
        for (const [id, client] of clients) if (client.live) receive(id, frame);
      },
      send: (id, frames) => {
        if (clients.get(id)!.live) violations.push(`${id} was sent a replay page while live`);
        for (const frame of frames) receive(id, frame);
      },
      paced: async () => undefined,
    },
  });
  const subscribe = (id: string, afterSeq?: bigint) => {
    let client = clients.get(id);
    if (!client) clients.set(id, (client = { subscribed: false, live: false, lastSeen: 0n, session: 0, received: [], other: [] }));
    if (afterSeq !== undefined) client.lastSeen = afterSeq;
    const session = ++client.session;
    client.subscribed = true;
    client.live = false;
    const done = sequencer.subscribe(id, afterSeq ?? client.lastSeen, (backlog, lastSeq) => {
      if (client.live) violations.push(`${id} went live twice`);
      for (const frame of backlog) receive(id, frame);
      client.live = true;
      if (lastSeq !== client.lastSeen) violations.push(`${id} was told Live at ${lastSeq} having seq ${client.lastSeen}`);
    });
    // A replay that fails ends the subscription (the node answers the Subscribe with an error).
    done.catch(() => {
      if (client.session !== session) return;
      client.subscribed = false;
      client.live = false;
      sequencer.unsubscribe(id);
    });
    return done;
  };
  const unsubscribe = (id: string) => {
    const client = clients.get(id);
    if (!client?.subscribed) return;
    client.subscribed = false;
    client.live = false;
    client.session++;
    sequencer.unsubscribe(id);
  };
  const settle = async (read: PendingRead | undefined, fail = false) => {
    if (!read) return;
    reads.splice(reads.indexOf(read), 1);
    if (fail) read.reject(new Error("store unavailable"));
    else read.resolve(read.page);
    await flush();
  };
  return { store, reads, clients, violations, sequencer, subscribe, unsubscribe, settle };
}

describe("RoomSequencer", () => {
  it("delivers in order, holds a message that arrives ahead of a hole and fills the hole from the reader", async () => {
    const h = harness();
    h.sequencer.noteHead(0n);
    void h.subscribe("a");
    await flush();
    await h.settle(h.reads[0]); // the (empty) replay
    expect(h.clients.get("a")!.live).toBe(true);
    const [m1, m2, m3] = [h.store.commit(), h.store.commit(), h.store.commit()];
    h.sequencer.acceptCreated(m1);
    h.sequencer.acceptCreated(m3); // m2's event is lost
    expect(h.clients.get("a")!.received).toEqual([1n]);
    expect(h.reads.map((r) => r.afterSeq)).toEqual([1n]);
    await h.settle(h.reads[0]);
    expect(h.clients.get("a")!.received).toEqual([1n, 2n, 3n]);
    h.sequencer.acceptCreated(m2); // late, and a duplicate now
    h.sequencer.acceptCreated(m3);
    expect(h.clients.get("a")!.received).toEqual([1n, 2n, 3n]);
    expect(h.violations).toEqual([]);
  });

  it("fills up to a head it is told of (a head check or beacon after a lost event)", async () => {
    const h = harness();
    h.sequencer.noteHead(0n);
    void h.subscribe("a");
    await flush();
    await h.settle(h.reads[0]);
    for (let i = 0; i < 7; i++) h.store.commit(); // every event lost
    h.sequencer.noteHead(h.store.head);
    while (h.reads.length > 0) await h.settle(h.reads[0]); // pages of 3
    expect(h.clients.get("a")!.received).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
  });

  it("replays after afterSeq, holds live frames meanwhile, and sends nothing twice at the boundary", async () => {
    const h = harness(100);
    for (let i = 0; i < 5; i++) h.store.commit();
    h.sequencer.noteHead(3n); // the room is delivered to 3 here; 4 and 5 are on their way
    void h.subscribe("a", 1n);
    await flush();
    const typing = new OutgoingFrame({ frame: { case: "typing", value: { roomId: ROOM, userId: "u" } } });
    h.sequencer.relay(typing);
    await h.settle(h.reads[0]); // 2..5 from the store: the room catches up from it too
    expect(h.clients.get("a")).toMatchObject({ live: true, received: [2n, 3n, 4n, 5n], other: ["typing"] });
    expect(h.sequencer.lastSeq).toBe(5n);
    h.sequencer.acceptCreated(h.store.messages[3]!);
    h.sequencer.acceptCreated(h.store.messages[4]!);
    const m6 = h.store.commit();
    h.sequencer.acceptCreated(m6);
    expect(h.clients.get("a")!.received).toEqual([2n, 3n, 4n, 5n, 6n]);
    expect(h.violations).toEqual([]);
  });

  it("keeps a subscriber that is ahead of the room off the live stream until the room catches up", async () => {
    const h = harness();
    for (let i = 0; i < 11; i++) h.store.commit();
    h.sequencer.noteHead(10n); // this node has not heard of 11 yet; the client saw it on another node
    void h.subscribe("c", 11n);
    await flush();
    await h.settle(h.reads[0]); // the replay finds nothing after 11, and tells the room's head: 11
    expect(h.clients.get("c")!.live).toBe(false);
    expect(h.reads.map((r) => r.afterSeq)).toEqual([10n]); // the fill it started
    await h.settle(h.reads[0]);
    expect(h.clients.get("c")).toMatchObject({ live: true, received: [] });
    h.sequencer.acceptCreated(h.store.messages[10]!); // 11's live event, late: not sent again
    h.sequencer.acceptCreated(h.store.commit());
    expect(h.clients.get("c")!.received).toEqual([12n]);
    expect(h.violations).toEqual([]);
  });

  it("starts a subscriber whose afterSeq is beyond the room's head at the head", async () => {
    const h = harness();
    h.store.commit();
    h.sequencer.noteHead(1n);
    let liveAt: bigint | undefined;
    const live = h.sequencer.subscribe("a", 99n, (_backlog, lastSeq) => (liveAt = lastSeq));
    await flush();
    await h.settle(h.reads[0]);
    expect(await live).toBe(true);
    expect(liveAt).toBe(1n);
  });

  it("drops a subscriber whose replay cannot be read, and answers false to one unsubscribed meanwhile", async () => {
    const h = harness();
    h.store.commit();
    h.sequencer.noteHead(1n);
    const failing = h.sequencer.subscribe("a", 0n, () => undefined).then(
      () => "resolved",
      (error: Error) => error.message,
    );
    await flush();
    await h.settle(h.reads[0], true);
    expect(await failing).toBe("store unavailable");
    expect(h.sequencer.isLive("a")).toBe(false);
    const left = h.sequencer.subscribe("b", 0n, () => undefined);
    await flush();
    h.sequencer.unsubscribe("b");
    await h.settle(h.reads[0]);
    expect(await left).toBe(false);
    expect(h.sequencer.isLive("b")).toBe(false);
  });

  type Op =
    | { t: "commit" }
    | { t: "deliver"; i: number; twice: boolean }
    | { t: "lose"; i: number }
    | { t: "head" }
    | { t: "subscribe"; c: number }
    | { t: "unsubscribe"; c: number }
    | { t: "settle"; i: number; fail: boolean };

  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.constant({ t: "commit" as const }) },
    { weight: 5, arbitrary: fc.record({ t: fc.constant("deliver" as const), i: fc.nat(), twice: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("lose" as const), i: fc.nat() }) },
    { weight: 1, arbitrary: fc.constant({ t: "head" as const }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant("subscribe" as const), c: fc.nat(2) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("unsubscribe" as const), c: fc.nat(2) }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant("settle" as const), i: fc.nat(), fail: fc.nat(6).map((n) => n === 0) }) },
  );

  it("property: over any interleaving of live events (late, repeated, lost), replays, failed reads and resubscribes, each subscriber gets every message once, in order, and holes get filled", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 100 }), fc.integer({ min: 1, max: 4 }), async (ops, pageSize) => {
        const h = harness(pageSize);
        const inFlight: Message[] = [];
        for (const o of ops) {
          switch (o.t) {
            case "commit":
              inFlight.push(h.store.commit());
              break;
            case "deliver": {
              if (inFlight.length === 0) break;
              const index = o.i % inFlight.length;
              const message = inFlight[index]!;
              if (!o.twice) inFlight.splice(index, 1);
              h.sequencer.acceptCreated(message);
              break;
            }
            case "lose":
              if (inFlight.length > 0) inFlight.splice(o.i % inFlight.length, 1);
              break;
            case "head":
              h.sequencer.noteHead(h.store.head);
              break;
            case "subscribe":
              if (!h.clients.get(`c${o.c}`)?.subscribed) void h.subscribe(`c${o.c}`).catch(() => undefined);
              break;
            case "unsubscribe":
              h.unsubscribe(`c${o.c}`);
              break;
            case "settle":
              if (h.reads.length > 0) await h.settle(h.reads[o.i % h.reads.length], o.fail);
              break;
          }
          await flush();
          expect(h.violations).toEqual([]);
        }
        // Quiet: the rest of the events are lost; head checks run until the store answers every read.
        inFlight.length = 0;
        for (let round = 0; round < 4; round++) {
          h.sequencer.noteHead(h.store.head);
          await flush();
          while (h.reads.length > 0) await h.settle(h.reads[0]);
        }
        expect(h.violations).toEqual([]);
        // (A room without subscribers reads nothing: the node closes it.)
        if ([...h.clients.values()].some((c) => c.subscribed)) expect(h.sequencer.lastSeq).toBe(h.store.head);
        for (const [id, client] of h.clients) {
          if (!client.subscribed) continue;
          expect({ id, live: client.live, lastSeen: client.lastSeen }).toEqual({ id, live: true, lastSeen: h.store.head });
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("FrameLimiter", () => {
  it("passes a burst of four seconds' worth, refuses beyond it, refills with time, and closes a flood of ten times the rate", () => {
    const limiter = new FrameLimiter(10, 0);
    const verdicts = Array.from({ length: 41 }, () => limiter.take(0));
    expect(verdicts.slice(0, 40).every((v) => v === "pass")).toBe(true);
    expect(verdicts[40]).toBe("refuse");
    expect(limiter.take(100)).toBe("pass"); // a tenth of a second at 10/s: one frame
    expect(limiter.take(100)).toBe("refuse");
    const flood = Array.from({ length: 100 }, () => limiter.take(150));
    expect(flood.at(-1)).toBe("close");
    expect(flood.filter((v) => v === "refuse")).toHaveLength(98);
  });
});
