// A lane sequencer as a unit: no uWebSockets.js, no services. The store is the message lane of
// one room (each message at its latest change) and its reads are promises the test settles when
// (and whether) it likes.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MessageSchema, type Message } from "@parley/proto/message/v1/message_pb";
import { FrameLimiter } from "../src/socket/frame-limiter.js";
import { messageFrame } from "../src/socket/frames.js";
import { OutgoingFrame } from "../src/socket/protocol.js";
import { LaneSequencer, type Page, type ReplayFrom } from "../src/socket/sequencer.js";

const ROOM = "01900000-0000-7000-8000-000000000001";

/** The room's message lane as the message service stores it: messages at their latest change, changes 1..head. */
class Store {
  readonly messages: Message[] = [];
  /** Every change ever made, by position: the message's state right after it. */
  readonly history = new Map<bigint, Message>();
  head = 0n;
  private record(message: Message): Message {
    this.history.set(message.change, message);
    return message;
  }
  commit(): Message {
    const seq = BigInt(this.messages.length + 1);
    const message = create(MessageSchema, { id: `m${seq}`, roomId: ROOM, seq, change: ++this.head, body: `message ${seq}` });
    this.messages.push(message);
    return this.record(message);
  }
  edit(index: number): Message | undefined {
    const old = this.messages[index % Math.max(1, this.messages.length)];
    if (!old) return undefined;
    const edited = create(MessageSchema, { ...old, change: ++this.head, body: `${old.body}'`, editTime: timestampFromMs(1) });
    this.messages[this.messages.indexOf(old)] = edited;
    return this.record(edited);
  }
  page(after: bigint, limit: number, afterSeq?: bigint): Page<Message> {
    if (afterSeq !== undefined) {
      const later = this.messages.filter((m) => m.seq > afterSeq).map((m) => m.change);
      after = later.length ? later.reduce((a, b) => (a < b ? a : b)) - 1n : this.head;
    }
    const items = this.messages.filter((m) => m.change > after).sort((a, b) => (a.change < b.change ? -1 : 1));
    const hasMore = items.length > limit;
    const page = items.slice(0, limit);
    return { items: page, hasMore, lastChange: hasMore ? page.at(-1)!.change : this.head, lastSeq: BigInt(this.messages.length) };
  }
}

/** The newest seq among the messages created at or before a position of the lane. */
function newestSeqAt(store: Store, position: bigint): bigint {
  const created = new Map<string, bigint>();
  for (const [change, message] of store.history) if (!created.has(message.id) || change < created.get(message.id)!) created.set(message.id, change);
  let newest = 0n;
  for (const message of store.messages) if (created.get(message.id)! <= position && message.seq > newest) newest = message.seq;
  return newest;
}

interface PendingRead {
  after: bigint;
  /** Read when asked (a snapshot): it may arrive after newer changes came live. */
  page: Page<Message>;
  resolve(page: Page<Message>): void;
  reject(error: Error): void;
}

/** A subscriber as a client sees it: what it was sent, in the order it was sent. */
interface Client {
  subscribed: boolean;
  live: boolean;
  /** The lane position it has; a resubscribe asks for what follows it (as LiveClient does). */
  position: bigint;
  session: number;
  /** Its copy of the room: message id to the state last applied. */
  copy: Map<string, Message>;
  /** Positions received, in order. */
  received: bigint[];
  /** Frames outside the lane, by case. */
  other: string[];
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A sequencer over a Store, with clients that fail the test on any repeat, reordering or state that never was. */
function harness(pageSize = 3) {
  const store = new Store();
  const reads: PendingRead[] = [];
  const clients = new Map<string, Client>();
  const violations: string[] = [];
  const receive = (id: string, frame: OutgoingFrame) => {
    const client = clients.get(id)!;
    if (!client.subscribed) violations.push(`${id} was sent a frame while not subscribed`);
    const { frame: inner, position } = frame.frame;
    if (inner.case !== "messageCreated" && inner.case !== "messageEdited" && inner.case !== "messageDeleted") {
      return void client.other.push(inner.case ?? "");
    }
    const message = inner.value.message!;
    const at = position?.messages ?? 0n;
    if (at !== message.change) violations.push(`${id} got a frame at ${at} for a message at ${message.change}`);
    if (at <= client.position) violations.push(`${id} got position ${at} having ${client.position}`);
    const then = store.history.get(at);
    if (!then || then.id !== message.id || then.body !== message.body) violations.push(`${id} got a state at ${at} that never was`);
    client.position = at;
    client.received.push(at);
    client.copy.set(message.id, message);
  };
  const sequencer = new LaneSequencer<string, Message>({
    pageSize,
    read: (after, limit, _id, afterSeq) =>
      new Promise<Page<Message>>((resolve, reject) => reads.push({ after, page: store.page(after, limit, afterSeq), resolve, reject })),
    positionOf: (message) => message.change,
    seqOf: (message) => message.seq,
    frameOf: messageFrame,
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
  const subscribe = (id: string, from?: ReplayFrom) => {
    let client = clients.get(id);
    if (!client) clients.set(id, (client = { subscribed: false, live: false, position: 0n, session: 0, copy: new Map(), received: [], other: [] }));
    if (from && "after" in from) client.position = from.after;
    const session = ++client.session;
    client.subscribed = true;
    client.live = false;
    const done = sequencer.subscribe(id, from ?? { after: client.position }, (backlog, position) => {
      if (client.live) violations.push(`${id} went live twice`);
      for (const frame of backlog) receive(id, frame);
      client.live = true;
      if (position < client.position) violations.push(`${id} was told it is at ${position} having ${client.position}`);
      // Live.last_seq: the client takes every seq up to it as delivered, so it must hold them all.
      const held = newestSeqAt(store, client.position);
      if (sequencer.lastSeq > held) violations.push(`${id} was told last seq ${sequencer.lastSeq} holding up to ${held}`);
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
  /** The client's copy equals the store's current state. */
  const inSync = (id: string) => {
    const copy = clients.get(id)!.copy;
    return store.messages.every((m) => copy.get(m.id)?.body === m.body && copy.get(m.id)?.change === m.change);
  };
  return { store, reads, clients, violations, sequencer, subscribe, unsubscribe, settle, inSync };
}

describe("LaneSequencer", () => {
  it("delivers in order, holds a change that arrives ahead of a hole and fills the hole from the reader", async () => {
    const h = harness();
    h.sequencer.noteHead(0n);
    void h.subscribe("a");
    await flush();
    await h.settle(h.reads[0]); // the (empty) replay
    expect(h.clients.get("a")!.live).toBe(true);
    const [m1, m2, m3] = [h.store.commit(), h.store.commit(), h.store.commit()];
    h.sequencer.accept(m1);
    h.sequencer.accept(m3); // m2's event is lost
    expect(h.clients.get("a")!.received).toEqual([1n]);
    expect(h.reads.map((r) => r.after)).toEqual([1n]);
    await h.settle(h.reads[0]);
    expect(h.clients.get("a")!.received).toEqual([1n, 2n, 3n]);
    h.sequencer.accept(m2); // late, and a duplicate now
    h.sequencer.accept(m3);
    expect(h.clients.get("a")!.received).toEqual([1n, 2n, 3n]);
    expect(h.violations).toEqual([]);
  });

  it("tells a subscriber that goes live while a change waits behind a hole the newest seq it was sent, not the held one's", async () => {
    const h = harness();
    h.sequencer.noteHead(0n);
    void h.subscribe("a");
    await flush();
    await h.settle(h.reads[0]);
    const b = h.subscribe("b", { afterSeq: 0n }); // its replay reads the empty room...
    await flush();
    const replay = h.reads[0]!;
    const [, m2] = [h.store.commit(), h.store.commit()];
    h.sequencer.accept(m2); // ...while m2 comes live ahead of m1: held, and a fill reads after 0
    await h.settle(replay); // b's (empty) replay ends: b goes live, before the fill
    await b;
    expect(h.violations).toEqual([]);
    expect(h.sequencer.lastSeq).toBe(0n);
    while (h.reads.length > 0) await h.settle(h.reads[0]);
    expect(h.clients.get("b")!.received).toEqual([1n, 2n]);
    expect(h.sequencer.lastSeq).toBe(2n);
    expect(h.violations).toEqual([]);
  });

  it("fills up to a head it is told of (a head check after lost events), each changed message once at its latest change", async () => {
    const h = harness();
    h.sequencer.noteHead(0n);
    void h.subscribe("a");
    await flush();
    await h.settle(h.reads[0]);
    for (let i = 0; i < 5; i++) h.store.commit(); // every event lost
    h.store.edit(0); // 6
    h.store.edit(0); // 7: supersedes 6
    h.store.edit(2); // 8
    h.sequencer.noteHead(h.store.head);
    while (h.reads.length > 0) await h.settle(h.reads[0]); // pages of 3
    expect(h.clients.get("a")!.received).toEqual([2n, 4n, 5n, 7n, 8n]);
    expect(h.inSync("a")).toBe(true);
    expect(h.sequencer.position).toBe(8n);
    expect(h.violations).toEqual([]);
  });

  it("replays after a position, holds live frames meanwhile, and sends nothing twice at the boundary", async () => {
    const h = harness(100);
    for (let i = 0; i < 5; i++) h.store.commit();
    h.sequencer.noteHead(3n); // the lane is delivered to 3 here; 4 and 5 are on their way
    void h.subscribe("a", { after: 1n });
    await flush();
    const typing = new OutgoingFrame({ frame: { case: "typing", value: { roomId: ROOM, userId: "u" } } });
    h.sequencer.relay(typing);
    await h.settle(h.reads[0]); // 2..5 from the store: the lane catches up from it too
    expect(h.clients.get("a")).toMatchObject({ live: true, received: [2n, 3n, 4n, 5n], other: ["typing"] });
    expect(h.sequencer.position).toBe(5n);
    expect(h.sequencer.lastSeq).toBe(5n);
    h.sequencer.accept(h.store.messages[3]!);
    h.sequencer.accept(h.store.messages[4]!);
    const edited = h.store.edit(0)!;
    h.sequencer.accept(edited);
    expect(h.clients.get("a")!.received).toEqual([2n, 3n, 4n, 5n, 6n]);
    expect(h.inSync("a")).toBe(true);
    expect(h.violations).toEqual([]);
  });

  it("replays an edit and a delete of a message the client had, made while it was away, in their latest state", async () => {
    const h = harness(100);
    for (let i = 0; i < 4; i++) h.store.commit();
    h.sequencer.noteHead(4n);
    // The client had everything up to 4; then message 1 is edited twice and message 2 is edited.
    h.store.edit(0);
    h.store.edit(1);
    h.store.edit(0);
    void h.subscribe("a", { after: 4n });
    await flush();
    await h.settle(h.reads[0]); // the replay, which tells the lane of head 7: it fills for the room
    expect(h.clients.get("a")!.live).toBe(false);
    await h.settle(h.reads[0]);
    expect(h.clients.get("a")).toMatchObject({ live: true, received: [6n, 7n] });
    expect(h.clients.get("a")!.copy.get("m1")?.body).toBe("message 1''");
    expect(h.violations).toEqual([]);
  });

  it("takes a deprecated afterSeq: every message after it and every change since the first of them", async () => {
    const h = harness(100);
    for (let i = 0; i < 4; i++) h.store.commit();
    h.store.edit(0); // 5: an edit of an old message after message 3 was sent
    h.sequencer.noteHead(5n);
    void h.subscribe("a", { afterSeq: 2n });
    await flush();
    await h.settle(h.reads[0]);
    expect(h.clients.get("a")).toMatchObject({ live: true, received: [3n, 4n, 5n] });
  });

  it("keeps a subscriber that is ahead of the lane here off the live stream until the lane catches up", async () => {
    const h = harness();
    for (let i = 0; i < 11; i++) h.store.commit();
    h.sequencer.noteHead(10n); // this node has not heard of 11 yet; the client saw it on another node
    void h.subscribe("c", { after: 11n });
    await flush();
    await h.settle(h.reads[0]); // the replay finds nothing after 11, and tells the lane's head: 11
    expect(h.clients.get("c")!.live).toBe(false);
    expect(h.reads.map((r) => r.after)).toEqual([10n]); // the fill it started
    await h.settle(h.reads[0]);
    expect(h.clients.get("c")).toMatchObject({ live: true, received: [] });
    h.sequencer.accept(h.store.messages[10]!); // 11's live event, late: not sent again
    h.sequencer.accept(h.store.commit());
    expect(h.clients.get("c")!.received).toEqual([12n]);
    expect(h.violations).toEqual([]);
  });

  it("starts a live-only subscriber at the lane's position, and restarts one that subscribes again from its new position", async () => {
    const h = harness(100);
    h.store.commit();
    h.sequencer.noteHead(1n);
    let liveAt: bigint | undefined;
    const live = h.sequencer.subscribe("a", undefined, (_backlog, position) => (liveAt = position));
    expect(await live).toBe(true);
    expect(liveAt).toBe(1n);
    h.store.commit();
    h.store.edit(0);
    // A second subscribe from 0: the whole lane again, then live.
    void h.subscribe("a", { after: 0n });
    await flush();
    await h.settle(h.reads[0]);
    expect(h.clients.get("a")).toMatchObject({ live: true, received: [2n, 3n] });
  });

  it("reads the next page of a replay only once the subscriber drained the last one: a client a month behind costs the node one page", async () => {
    const h = harness(100);
    for (let i = 0; i < 1000; i++) h.store.commit();
    for (let i = 0; i < 500; i++) h.store.edit(i * 2);
    h.sequencer.noteHead(h.store.head);
    let drained: (() => void) | undefined;
    const pacing = new LaneSequencer<string, Message>({
      pageSize: 100,
      read: (after, limit) => new Promise((resolve) => h.reads.push({ after, page: h.store.page(after, limit), resolve, reject: () => undefined })),
      positionOf: (message) => message.change,
      frameOf: messageFrame,
      output: { publish: () => undefined, send: (_id, frames) => (sent += frames.length), paced: () => new Promise<void>((resolve) => (drained = resolve)) },
    });
    let sent = 0;
    pacing.noteHead(h.store.head);
    const live = pacing.subscribe("far-behind", { after: 0n }, () => undefined);
    for (let page = 1; page <= 10; page++) {
      await flush();
      expect(h.reads).toHaveLength(1); // one read at a time, and none while the socket is full
      await h.settle(h.reads[0]);
      expect(sent).toBe(page * 100);
      expect(h.reads).toHaveLength(0);
      drained!();
    }
    expect(await live).toBe(true);
    expect(sent).toBe(1000); // 1000 messages, each once, at its latest change
  });

  it("drops a subscriber whose replay cannot be read, and answers false to one unsubscribed meanwhile", async () => {
    const h = harness();
    h.store.commit();
    h.sequencer.noteHead(1n);
    const failing = h.sequencer.subscribe("a", { after: 0n }, () => undefined).then(
      () => "resolved",
      (error: Error) => error.message,
    );
    await flush();
    await h.settle(h.reads[0], true);
    expect(await failing).toBe("store unavailable");
    expect(h.sequencer.isLive("a")).toBe(false);
    const left = h.sequencer.subscribe("b", { after: 0n }, () => undefined);
    await flush();
    h.sequencer.unsubscribe("b");
    await h.settle(h.reads[0]);
    expect(await left).toBe(false);
    expect(h.sequencer.isLive("b")).toBe(false);
  });

  type Op =
    | { t: "commit" }
    | { t: "edit"; i: number }
    | { t: "deliver"; i: number; twice: boolean }
    | { t: "lose"; i: number }
    | { t: "head" }
    | { t: "subscribe"; c: number }
    | { t: "unsubscribe"; c: number }
    | { t: "settle"; i: number; fail: boolean };

  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.constant({ t: "commit" as const }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant("edit" as const), i: fc.nat() }) },
    { weight: 5, arbitrary: fc.record({ t: fc.constant("deliver" as const), i: fc.nat(), twice: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("lose" as const), i: fc.nat() }) },
    { weight: 1, arbitrary: fc.constant({ t: "head" as const }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant("subscribe" as const), c: fc.nat(2) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("unsubscribe" as const), c: fc.nat(2) }) },
    { weight: 4, arbitrary: fc.record({ t: fc.constant("settle" as const), i: fc.nat(), fail: fc.nat(6).map((n) => n === 0) }) },
  );

  it("property: over any interleaving of sends and edits, live events (late, repeated, lost), replays, failed reads and resubscribes, each subscriber gets changes in order, never twice, never a state that was not, and ends in the store's state", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 100 }), fc.integer({ min: 1, max: 4 }), async (ops, pageSize) => {
        const h = harness(pageSize);
        const inFlight: Message[] = [];
        for (const o of ops) {
          switch (o.t) {
            case "commit":
              inFlight.push(h.store.commit());
              break;
            case "edit": {
              const edited = h.store.edit(o.i);
              if (edited) inFlight.push(edited);
              break;
            }
            case "deliver": {
              if (inFlight.length === 0) break;
              const index = o.i % inFlight.length;
              const message = inFlight[index]!;
              if (!o.twice) inFlight.splice(index, 1);
              h.sequencer.accept(message);
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
        // (A lane without subscribers reads nothing: the node closes it.)
        if ([...h.clients.values()].some((c) => c.subscribed)) expect(h.sequencer.position).toBe(h.store.head);
        for (const [id, client] of h.clients) {
          if (!client.subscribed) continue;
          expect({ id, live: client.live, position: client.position }).toEqual({ id, live: true, position: h.store.head });
          expect(h.inSync(id)).toBe(true);
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
