// The one way services publish what happened and consumers hear it: in memory
// when everything runs in one process, Redis pub/sub across processes.
// Delivery is at most once: a consumer that misses an event finds the hole by seq.
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { EventSchema, type Event } from "@parley/proto/events/v1/events_pb";
import type { Redis } from "ioredis";
import { uuidv7 } from "uuidv7";
import type { Logger } from "./logger.js";
import { createRedis } from "./redis.js";
import { toTimestamp } from "./time.js";

export type EventHandler = (event: Event) => void;
export type Unsubscribe = () => Promise<void>;

export interface Broker {
  /** Sends after a commit. Never throws and never waits for consumers: a failure is logged. */
  publish(topic: string, event: Event): void;
  /** Calls `handler` for every event on `topic` until the returned function is called. */
  subscribe(topic: string, handler: EventHandler): Promise<Unsubscribe>;
  close(): Promise<void>;
}

export const topics = {
  room: (roomId: string) => `room.${roomId}`,
  user: (userId: string) => `user.${userId}`,
  /**
   * The firehose: every message_created of every room (issue 18), for the notification worker,
   * which would otherwise have to subscribe to every room's topic. At most once like every topic:
   * the worker catches up what it misses from the room's stream.
   */
  messages: "messages",
};

/** An event with a fresh id and the current time; `roomId` is empty for user-only events. */
export function newEvent(roomId: string, payload: MessageInitShape<typeof EventSchema>["payload"], change = 0n): Event {
  return create(EventSchema, { id: uuidv7(), roomId, time: toTimestamp(Date.now()), change, payload });
}

export type EventPayload = MessageInitShape<typeof EventSchema>["payload"];

/** Where an event of a committed change goes: its room's topic (if any) and the topics of `users`. */
export interface Outgoing {
  /** Empty for a user-only event (no room topic). */
  roomId: string;
  payload: EventPayload;
  /** Users who must hear it outside the rooms they watch (on `user.<id>`). */
  users?: Iterable<string>;
  /** The change's position in its lane of the room's stream (Event.change), if it is one. */
  change?: bigint;
  /** Also on the firehose topic (`topics.messages`): message_created, for the notification worker. */
  firehose?: boolean;
}

/**
 * Publishes what a committed change did, once it has committed. Brokers never throw; the guard
 * keeps it so for any broker, because a committed change must never be reported as failed:
 * a lost event is only a delay (consumers find holes by seq, or ask again).
 */
export function publishCommitted(broker: Broker, log: Logger, { roomId, payload, users = [], change, firehose = false }: Outgoing): void {
  try {
    const event = newEvent(roomId, payload, change);
    if (roomId) broker.publish(topics.room(roomId), event);
    if (firehose) broker.publish(topics.messages, event);
    for (const userId of new Set(users)) broker.publish(topics.user(userId), event);
  } catch (error) {
    log.error({ err: error, roomId, event: payload?.case }, "event not published");
  }
}

/** Handlers per topic, shared by both brokers; a throwing handler never stops the others. */
class Subscriptions {
  private readonly byTopic = new Map<string, Set<EventHandler>>();

  constructor(private readonly log: Logger) {}

  add(topic: string, handler: EventHandler): boolean {
    let handlers = this.byTopic.get(topic);
    const first = !handlers;
    if (!handlers) this.byTopic.set(topic, (handlers = new Set()));
    handlers.add(handler);
    return first;
  }

  /** Returns true when the topic has no handler left. */
  remove(topic: string, handler: EventHandler): boolean {
    const handlers = this.byTopic.get(topic);
    if (!handlers) return false;
    handlers.delete(handler);
    if (handlers.size > 0) return false;
    this.byTopic.delete(topic);
    return true;
  }

  deliver(topic: string, event: Event): void {
    for (const handler of this.byTopic.get(topic) ?? []) {
      try {
        handler(event);
      } catch (error) {
        this.log.error({ err: error, topic }, "event handler failed");
      }
    }
  }

  topics(): string[] {
    return [...this.byTopic.keys()];
  }
}

export class MemoryBroker implements Broker {
  private readonly subscriptions: Subscriptions;

  constructor(log: Logger) {
    this.subscriptions = new Subscriptions(log);
  }

  publish(topic: string, event: Event): void {
    // Asynchronous like a real broker, so publishers never run consumer code inline.
    queueMicrotask(() => this.subscriptions.deliver(topic, event));
  }

  async subscribe(topic: string, handler: EventHandler): Promise<Unsubscribe> {
    this.subscriptions.add(topic, handler);
    return async () => void this.subscriptions.remove(topic, handler);
  }

  async close(): Promise<void> {}
}


export class RedisBroker implements Broker {
  private readonly subscriptions: Subscriptions;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;

  /** `prefix` starts every channel name (REDIS_PREFIX). */
  constructor(
    url: string,
    private readonly log: Logger,
    private readonly prefix = "parley:",
  ) {
    this.subscriptions = new Subscriptions(log);
    // Connection names carry the prefix, so an operator (or a test) can find this install's connections.
    this.publisher = createRedis(url, `${prefix}broker-pub`, log);
    // A connection in subscriber mode; ioredis subscribes again to every channel after a reconnect.
    this.subscriber = createRedis(url, `${prefix}broker-sub`, log);
    this.subscriber.on("messageBuffer", (channel: Buffer, payload: Buffer) => {
      let event: Event;
      try {
        event = fromBinary(EventSchema, payload);
      } catch (error) {
        this.log.warn({ err: error, channel: channel.toString() }, "dropped an undecodable event");
        return;
      }
      this.subscriptions.deliver(channel.toString().slice(this.prefix.length), event);
    });
  }

  publish(topic: string, event: Event): void {
    this.publisher.publish(this.prefix + topic, Buffer.from(toBinary(EventSchema, event))).catch((error) => {
      this.log.warn({ err: error, topic }, "event not published");
    });
  }

  async subscribe(topic: string, handler: EventHandler): Promise<Unsubscribe> {
    if (this.subscriptions.add(topic, handler)) await this.subscriber.subscribe(this.prefix + topic);
    return async () => {
      if (this.subscriptions.remove(topic, handler)) {
        await this.subscriber.unsubscribe(this.prefix + topic).catch(() => undefined);
      }
    };
  }

  /** Resolves once both connections are up (tests and readiness). */
  async ready(): Promise<void> {
    await Promise.all([this.publisher.ping(), this.subscriber.status === "ready" ? undefined : once(this.subscriber, "ready")]);
  }

  async close(): Promise<void> {
    await Promise.all([this.publisher.quit(), this.subscriber.quit()].map((p) => p.catch(() => undefined)));
  }
}

function once(emitter: Redis, event: string): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()));
}

/** Redis pub/sub when `redisUrl` is set, in memory otherwise. */
export function createBroker(redisUrl: string | undefined, log: Logger, redisPrefix = "parley:"): Broker {
  return redisUrl ? new RedisBroker(redisUrl, log, redisPrefix) : new MemoryBroker(log);
}
