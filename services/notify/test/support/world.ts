// A notify world for the worker's tests: the user, room and message services (startTestParley),
// a notify process started here with a clock the test moves, a real SMTP server and a real push
// service (the channels' sinks), on an embedded database or PARLEY_TEST_DATABASE_URL. The notify
// process hears the message service's events through a broker the test can make lose events.
import { randomBytes } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { asUser, createServiceClient, InternalAuth, type Broker, type LaunchedService } from "@parley/kit";
import { startTestParley, type TestParley } from "@parley/launch/testing";
import { notifyLaunch, type NotifyOverrides } from "@parley/notify";
import type { Event } from "@parley/proto/events/v1/events_pb";
import { NotificationService, type Preferences } from "@parley/proto/notify/v1/notify_pb";
import { RoomKind } from "@parley/proto/room/v1/room_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { PreferencesSchema } from "@parley/proto/notify/v1/notify_pb";
import { uuidv7 } from "uuidv7";
import { NotifyWorker } from "../../src/worker/index.js";
import { startPushSink, type PushSink } from "./push-sink.js";
import { startSmtpSink, type SmtpSink } from "./smtp-sink.js";

export const PUBLIC_URL = "https://chat.example.com";
export const tag = () => randomBytes(4).toString("hex");

/** A clock the test moves (no sleeping past the email delay). */
export function testClock() {
  let offset = 0;
  return {
    now: () => new Date(Date.now() + offset),
    advance(ms: number) {
      offset += ms;
    },
  };
}

/** A broker in front of the real one that drops what it is told to (a lost event). */
export class LossyBroker implements Broker {
  dropping = false;
  dropped: Event[] = [];
  constructor(private readonly inner: Broker) {}
  publish(topic: string, event: Event): void {
    this.inner.publish(topic, event);
  }
  subscribe(topic: string, handler: (event: Event) => void) {
    return this.inner.subscribe(topic, (event) => {
      if (this.dropping) this.dropped.push(event);
      else handler(event);
    });
  }
  async close(): Promise<void> {}
}

/** Polls `check` until it gives a value (a marker in the database or a sink), failing after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export type Person = { id: string; username: string; email: string };

export async function startNotifyWorld(options: { overrides?: NotifyOverrides; env?: Record<string, string> } = {}) {
  const smtp: SmtpSink = await startSmtpSink();
  const push: PushSink = await startPushSink();
  const parley: TestParley<"message"> = await startTestParley({ services: ["message"] });
  const clock = testClock();
  const broker = new LossyBroker(parley.broker);
  const env = {
    ...parley.env,
    SMTP_URL: smtp.url,
    MAIL_FROM: "Parley <notifications@chat.example.com>",
    PUBLIC_URL,
    NOTIFY_PUSH_ALLOWED_HOSTS: push.allowedHosts.join(","),
    NOTIFY_SWEEP_MS: "3600000",
    ...options.env,
  };
  const workers: NotifyWorker[] = [];
  const replicas: LaunchedService[] = [];

  async function startReplica(overrides: NotifyOverrides = {}) {
    let worker: NotifyWorker | undefined;
    const service = await notifyLaunch({ now: clock.now, pollMs: 50, ...options.overrides, ...overrides, onWorker: (w) => (worker = w) })({
      env,
      port: 0,
      host: "127.0.0.1",
      addresses: parley.addresses,
      broker,
      presence: parley.presence,
      dataDir: "memory://",
    });
    replicas.push(service);
    workers.push(worker!);
    return { service, worker: worker! };
  }

  const first = await startReplica();
  const notifications = createServiceClient(NotificationService, first.service.address, { internalAuth: parley.internalAuth, defaultTimeoutMs: 30_000 });
  const asEdge = createServiceClient(NotificationService, first.service.address, {
    internalAuth: new InternalAuth(parley.env.INTERNAL_AUTH_SECRET!, "edge"),
    defaultTimeoutMs: 30_000,
  });

  async function person(): Promise<Person> {
    const username = `p${tag()}`;
    const email = `${username}@example.com`;
    const { user } = await parley.users.createUser({ id: uuidv7(), username, email, displayName: `Person ${username}` });
    return { id: user!.id, username, email };
  }

  async function room(owner: Person, members: Person[], name = `room ${tag()}`) {
    const { room } = await parley.rooms.createRoom({ name, kind: RoomKind.PRIVATE }, asUser(owner.id));
    for (const member of members) await parley.rooms.inviteMember({ roomId: room!.id, userId: member.id }, asUser(owner.id));
    return room!.id;
  }

  async function dm(a: Person, b: Person) {
    const { room } = await parley.rooms.openDirectRoom({ userId: b.id }, asUser(a.id));
    return room!.id;
  }

  async function send(from: Person, roomId: string, body: string, extra: { threadRootId?: string; alsoSendToRoom?: boolean } = {}) {
    const { message } = await parley.messages.sendMessage({ roomId, body, ...extra }, asUser(from.id));
    return message!;
  }

  async function prefer(who: Person, preferences: MessageInitShape<typeof PreferencesSchema>, ...paths: string[]): Promise<Preferences> {
    const response = await notifications.updatePreferences({ preferences, updateMask: create(FieldMaskSchema, { paths }) }, asUser(who.id));
    return response.preferences!;
  }

  /** A browser of `who` subscribed to Web Push through the service (the sink holds its keys). */
  async function subscribePush(who: Person) {
    const { vapidPublicKey } = await notifications.getPushConfig({}, asUser(who.id));
    const device = push.subscribe({ vapidPublicKey });
    const { subscription } = await notifications.addPushSubscription(
      { endpoint: device.endpoint, p256dh: device.p256dh, auth: device.auth, vapidPublicKey, deviceLabel: "test browser" },
      asUser(who.id),
    );
    return { device, subscription: subscription! };
  }

  /** Waits until the worker claimed (or decided not to claim) up to this message: the room's cursor passed it. */
  async function takenIn(message: { id: string; roomId: string; seq: bigint }) {
    const db = first.worker.options.db;
    return until(`the intake past ${message.roomId}#${message.seq}`, async () => {
      const cursor = await db.fork().cursors.get(message.roomId);
      return cursor !== undefined && cursor >= message.seq;
    });
  }

  const deliveries = (messageId: string) => first.worker.deliveriesOf(messageId);

  /** Waits until every delivery of the message on `channels` (default desktop and push) is done (sent or skipped); gives all its rows. */
  async function settled(message: { id: string; roomId: string; seq: bigint }, channels: number[] = [1, 2]) {
    await takenIn(message);
    return until(`the deliveries of ${message.id} to finish`, async () => {
      const rows = await deliveries(message.id);
      return rows.filter((row) => channels.includes(row.channel)).every((row) => row.state === "sent" || row.state === "skipped") ? rows : undefined;
    });
  }

  /**
   * A second replica: on PostgreSQL a second notify process on the same database; embedded (one
   * PGlite per process) a second worker over the same database in this process.
   */
  async function startSecondWorker(): Promise<{ stop(): Promise<void> }> {
    if (parley.env.DATABASE_URL) {
      const { service, worker } = await startReplica();
      return {
        stop: async () => {
          workers.splice(workers.indexOf(worker), 1);
          replicas.splice(replicas.indexOf(service), 1);
          await service.stop();
        },
      };
    }
    const worker = new NotifyWorker({ ...first.worker.options });
    await worker.start();
    workers.push(worker);
    return {
      stop: async () => {
        workers.splice(workers.indexOf(worker), 1);
        await worker.stop();
      },
    };
  }

  /** Moves the clock and wakes the dispatchers. */
  function advance(ms: number) {
    clock.advance(ms);
    for (const worker of workers) worker.dispatchers.poke();
  }

  return {
    parley,
    smtp,
    push,
    clock,
    broker,
    env,
    notifications,
    asEdge,
    worker: first.worker,
    workers,
    startReplica,
    startSecondWorker,
    person,
    room,
    dm,
    send,
    prefer,
    subscribePush,
    takenIn,
    deliveries,
    settled,
    advance,
    async stop() {
      for (const replica of replicas.reverse()) await replica.stop().catch(() => undefined);
      await parley.stop();
      await push.close();
      await smtp.close();
    },
  };
}

export type NotifyWorld = Awaited<ReturnType<typeof startNotifyWorld>>;
