// The notification worker (issue 18), run by every notify process: the intake (firehose, cursors,
// sweep) claims deliveries, the dispatchers send them. Replicas coordinate through the database only.
import type { Broker, Logger, PresenceStore } from "@parley/kit";
import type { Mailer } from "../channels/email.js";
import type { PushAgents } from "../channels/push-endpoint.js";
import type { NotifyDb } from "../db.js";
import type { MessageClient, RoomClient } from "../service.js";
import { Dispatchers, type DispatchDeps } from "./dispatch.js";
import { Intake } from "./intake.js";

export interface WorkerOptions {
  db: NotifyDb;
  log: Logger;
  broker: Broker;
  presence: PresenceStore;
  rooms: RoomClient;
  messages: MessageClient;
  users: DispatchDeps["users"];
  now: () => Date;
  publicUrl: string;
  vapidSubject: string;
  pushAllowedHosts: readonly string[];
  pushAgents?: PushAgents;
  mailer: Mailer | null;
  sweepMs: number;
  leaseMs?: number;
  pollMs?: number;
  batchSize?: number;
  maxAttempts?: number;
}

export class NotifyWorker {
  readonly intake: Intake;
  readonly dispatchers: Dispatchers;

  constructor(readonly options: WorkerOptions) {
    this.dispatchers = new Dispatchers({
      ...options,
      leaseMs: options.leaseMs ?? 60_000,
      pollMs: options.pollMs ?? 1_000,
      batchSize: options.batchSize ?? 100,
      maxAttempts: options.maxAttempts ?? 10,
    });
    this.intake = new Intake({ ...options, email: options.mailer !== null, onClaimed: () => this.dispatchers.poke() });
  }

  /** Every delivery of a message (tests, operators). */
  deliveriesOf(messageId: string) {
    return this.options.db.fork().deliveries.ofMessage(messageId);
  }

  async start(): Promise<void> {
    await this.intake.start();
    this.dispatchers.start();
  }

  async stop(): Promise<void> {
    await this.intake.stop();
    await this.dispatchers.stop();
  }
}
