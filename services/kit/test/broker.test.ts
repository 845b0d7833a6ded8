import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import type { Event } from "@parley/proto/events/v1/events_pb";
import { createLogger, MemoryBroker, newEvent, publishCommitted, RedisBroker, topics, type Broker } from "../src/index.js";
import { TEST_REDIS_URL } from "../src/testing.js";

const log = createLogger("test", "silent");
const brokers: [string, () => Promise<Broker>][] = [["in memory", async () => new MemoryBroker(log)]];
if (TEST_REDIS_URL) {
  brokers.push([
    "on Redis",
    async () => {
      const broker = new RedisBroker(TEST_REDIS_URL!, log);
      await broker.ready();
      return broker;
    },
  ]);
}

function collect(): { events: Event[]; handler: (e: Event) => void; next: (n?: number) => Promise<Event[]> } {
  const events: Event[] = [];
  return {
    events,
    handler: (e) => events.push(e),
    async next(n = 1) {
      for (let i = 0; i < 100 && events.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      return events;
    },
  };
}

describe.each(brokers)("broker %s", (_name, make) => {
  const made: Broker[] = [];
  const broker = async () => {
    const b = await make();
    made.push(b);
    return b;
  };
  afterAll(async () => {
    await Promise.all(made.map((b) => b.close()));
  });

  it("delivers a published event, payload intact, to every subscriber of its topic only", async () => {
    const b = await broker();
    const room = randomUUID();
    const [first, second, other] = [collect(), collect(), collect()];
    await b.subscribe(topics.room(room), first.handler);
    await b.subscribe(topics.room(room), second.handler);
    await b.subscribe(topics.room(randomUUID()), other.handler);
    const event = newEvent(room, { case: "headBeacon", value: { lastSeq: 41n } });
    b.publish(topics.room(room), event);
    const [received] = await first.next();
    await second.next();
    expect(received?.id).toBe(event.id);
    expect(received?.payload).toEqual({ case: "headBeacon", value: expect.objectContaining({ lastSeq: 41n }) });
    expect(second.events).toHaveLength(1);
    expect(other.events).toHaveLength(0);
  });

  it("stops delivering after unsubscribe, and a throwing handler does not stop the others", async () => {
    const b = await broker();
    const topic = topics.user(randomUUID());
    const kept = collect();
    await b.subscribe(topic, () => {
      throw new Error("consumer bug");
    });
    const gone = collect();
    const unsubscribe = await b.subscribe(topic, gone.handler);
    await b.subscribe(topic, kept.handler);
    await unsubscribe();
    b.publish(topic, newEvent("", { case: "sessionsRevoked", value: { userId: "u" } }));
    await kept.next();
    expect(kept.events).toHaveLength(1);
    expect(gone.events).toHaveLength(0);
  });

  it("passes events between two broker instances (two processes' view)", async () => {
    const [a, b] = [await broker(), await broker()];
    const topic = topics.room(randomUUID());
    const heard = collect();
    await b.subscribe(topic, heard.handler);
    a.publish(topic, newEvent("r", { case: "headBeacon", value: { lastSeq: 1n } }));
    await heard.next();
    // In memory, instances are separate worlds; on Redis they share every topic.
    expect(heard.events).toHaveLength(a instanceof RedisBroker ? 1 : 0);
  });
});

describe("publishCommitted", () => {
  it("sends one event to the room's topic and once to each named user's, and nothing to a room topic for a user-only event", () => {
    const sent: [string, Event][] = [];
    const broker: Broker = { publish: (topic, event) => void sent.push([topic, event]), subscribe: async () => async () => {}, close: async () => {} };
    const roomId = randomUUID();
    publishCommitted(broker, log, { roomId, payload: { case: "typing", value: { userId: "u1" } }, users: ["u1", "u2", "u1"] });
    expect(sent.map(([topic]) => topic)).toEqual([topics.room(roomId), topics.user("u1"), topics.user("u2")]);
    expect(new Set(sent.map(([, event]) => event.id)).size).toBe(1);
    sent.length = 0;
    publishCommitted(broker, log, { roomId: "", payload: { case: "sessionsRevoked", value: { userId: "u1", sessionIds: ["s"] } }, users: ["u1"] });
    expect(sent.map(([topic]) => topic)).toEqual([topics.user("u1")]);
  });

  it("also sends a firehose event (message_created) to topics.messages, the same event", () => {
    const sent: [string, Event][] = [];
    const broker: Broker = { publish: (topic, event) => void sent.push([topic, event]), subscribe: async () => async () => {}, close: async () => {} };
    const roomId = randomUUID();
    publishCommitted(broker, log, { roomId, payload: { case: "typing", value: { userId: "u1" } }, firehose: true });
    expect(sent.map(([topic]) => topic)).toEqual([topics.room(roomId), topics.messages]);
    expect(sent[0]![1]).toBe(sent[1]![1]);
  });

  it("never throws for a broker that does, and logs the event it lost", () => {
    const errors: unknown[] = [];
    const failing: Broker = { publish: () => { throw new Error("down"); }, subscribe: async () => async () => {}, close: async () => {} };
    const logger = createLogger("test", "silent");
    logger.error = ((...args: unknown[]) => void errors.push(args)) as typeof logger.error;
    expect(() => publishCommitted(failing, logger, { roomId: randomUUID(), payload: { case: "typing", value: { userId: "u" } } })).not.toThrow();
    expect(errors).toHaveLength(1);
  });
});
