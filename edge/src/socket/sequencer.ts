// The per-room sequencer: every subscriber of a room on this node gets each message of the room
// once, in seq order, whatever the broker does (events late, out of order, twice or never).
//
// - Live messageCreated events ahead of a hole are held; the hole is filled from the store (the
//   injected reader) and the held ones follow. Duplicates and messages already delivered are dropped.
// - A new subscriber is replayed from the store after its afterSeq while live frames for it wait
//   in a backlog; at the boundary the backlog is flushed without what the replay already sent, and
//   the subscriber goes live only once the room has been delivered up to where its replay ended
//   (otherwise the live stream would repeat messages it just replayed).
// - What a replay reads is fed back as if it came live: the room's other subscribers get it too.
//
// No uWebSockets.js here: the node publishes, sends and paces for it (SequencerOutput).
import type { Message } from "@parley/proto/message/v1/message_pb";
import { createdFrame } from "./frames.js";
import type { OutgoingFrame } from "./protocol.js";

export interface MessagePage {
  /** Ascending by seq. */
  messages: Message[];
  hasNewer: boolean;
  /** The room's last seq when the page was read. */
  lastSeq: bigint;
}

/** Reads messages of the room after `afterSeq`, oldest first, on behalf of a subscriber (the store checks membership). */
export type MessageReader<S> = (afterSeq: bigint, limit: number, onBehalfOf: S) => Promise<MessagePage>;

export interface SequencerOutput<S> {
  /** To every live subscriber of the room at once (the node publishes on the room's topics). */
  publish(frame: OutgoingFrame): void;
  /** To one subscriber that is not live yet (a page of its replay). */
  send(subscriber: S, frames: OutgoingFrame[]): void;
  /** Resolves when the subscriber may take the next replay page (the node waits for drain). */
  paced(subscriber: S): Promise<void>;
}

/** Called once, synchronously, when a subscriber goes live: send `backlog`, then subscribe it to what publish() reaches. */
export type GoLive = (backlog: OutgoingFrame[], lastSeq: bigint) => void;

interface Joining {
  /** Frames published while this subscriber was not live, with the seq of messageCreated ones. */
  backlog: { frame: OutgoingFrame; seq?: bigint }[];
  /** Highest seq this subscriber has been sent (or told it has). */
  lastSeq: bigint;
  goLive: GoLive;
  /**
   * The seq after which the backlog holds every delivered message: the room's delivered seq when
   * the subscriber came (or when the room's start became known). The replay must reach it.
   */
  coveredFrom?: bigint;
  /** Set while the replay is done and the room is not yet delivered up to lastSeq. */
  waiting?: (live: boolean) => void;
}

export interface SequencerOptions<S> {
  read: MessageReader<S>;
  output: SequencerOutput<S>;
  /** Messages per read (at most 100, the store's page). */
  pageSize?: number;
  /** A fill that failed: the next noteHead (head check, beacon) tries again. */
  onFillError?: (error: unknown) => void;
}

const bySeq = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

export class RoomSequencer<S> {
  /** Highest seq delivered in order; undefined until the room's head is known. */
  private delivered?: bigint;
  /** Highest head the store reported: a fill that stops short of it goes on. */
  private head = 0n;
  /** Messages that arrived ahead of a hole, by seq. */
  private readonly held = new Map<bigint, Message>();
  private filling = false;
  private closed = false;
  private readonly joining = new Map<S, Joining>();
  private readonly live = new Set<S>();
  private readonly pageSize: number;

  constructor(private readonly options: SequencerOptions<S>) {
    this.pageSize = options.pageSize ?? 100;
  }

  /** Highest seq delivered to the room in order, undefined until the head is known. */
  get lastSeq(): bigint | undefined {
    return this.delivered;
  }

  isLive(subscriber: S): boolean {
    return this.live.has(subscriber);
  }

  /** A messageCreated event, from the broker or read from the store. */
  acceptCreated(message: Message): void {
    if (this.closed) return;
    if (this.delivered === undefined || message.seq > this.delivered + 1n) {
      this.held.set(message.seq, message);
      if (this.delivered !== undefined) void this.fill();
      return;
    }
    if (message.seq <= this.delivered) return; // already delivered
    this.deliver(message);
    this.releaseHeld();
  }

  /** An edit or delete: relayed only for a message already delivered (a later one arrives in its current state). */
  acceptChanged(frame: OutgoingFrame, seq: bigint): void {
    if (this.delivered === undefined || seq > this.delivered) return;
    this.relay(frame);
  }

  /** A frame outside the seq order (typing, presence, members): to live subscribers now, to joining ones at their boundary. */
  relay(frame: OutgoingFrame, seq?: bigint): void {
    if (this.closed) return;
    this.options.output.publish(frame);
    for (const joining of this.joining.values()) joining.backlog.push({ frame, seq });
  }

  /** The room's newest seq as the store knows it (the first read, a head check, a beacon): sets the start or fills up to it. */
  noteHead(lastSeq: bigint): void {
    if (this.closed) return;
    if (lastSeq > this.head) this.head = lastSeq;
    if (this.delivered === undefined) {
      this.delivered = lastSeq;
      for (const joining of this.joining.values()) joining.coveredFrom = lastSeq;
      this.releaseHeld();
      this.admitWaiting();
    } else if (lastSeq > this.delivered) {
      void this.fill();
    }
  }

  /**
   * Replays the room to `subscriber` after `afterSeq` (no replay when undefined), then makes it
   * live. Resolves true once live, false if it was unsubscribed (or the room closed) meanwhile;
   * rejects when the store cannot be read (the subscriber is then dropped).
   */
  async subscribe(subscriber: S, afterSeq: bigint | undefined, goLive: GoLive): Promise<boolean> {
    this.unsubscribe(subscriber);
    const joining: Joining = { backlog: [], lastSeq: afterSeq ?? this.delivered ?? 0n, goLive, coveredFrom: this.delivered };
    this.joining.set(subscriber, joining);
    const current = () => !this.closed && this.joining.get(subscriber) === joining;
    try {
      let more = afterSeq !== undefined;
      while (more) {
        const page = await this.options.read(joining.lastSeq, this.pageSize, subscriber);
        if (!current()) return false;
        if (page.messages.length > 0) {
          this.options.output.send(subscriber, page.messages.map(createdFrame));
          joining.lastSeq = page.messages.at(-1)!.seq;
          for (const message of page.messages) this.acceptCreated(message);
        }
        const ended = !page.hasNewer || page.messages.length === 0;
        if (ended) {
          // An afterSeq beyond the room's head claims messages that do not exist: the head is where it starts.
          if (joining.lastSeq > page.lastSeq) joining.lastSeq = page.lastSeq;
          this.noteHead(page.lastSeq);
        }
        await this.options.output.paced(subscriber);
        if (!current()) return false;
        // A read older than what the backlog starts from leaves a gap between them: read on.
        more = !ended || joining.lastSeq < (joining.coveredFrom ?? 0n);
      }
    } catch (error) {
      if (current()) this.joining.delete(subscriber);
      throw error;
    }
    if (this.caughtUp(joining)) {
      this.admit(subscriber, joining);
      return true;
    }
    return new Promise<boolean>((resolve) => (joining.waiting = resolve));
  }

  unsubscribe(subscriber: S): void {
    const joining = this.joining.get(subscriber);
    this.joining.delete(subscriber);
    joining?.waiting?.(false);
    this.live.delete(subscriber);
  }

  /** The room has no subscribers left on this node: stops filling and delivering. */
  close(): void {
    this.closed = true;
    for (const subscriber of [...this.joining.keys()]) this.unsubscribe(subscriber);
    this.live.clear();
    this.held.clear();
  }

  private caughtUp(joining: Joining): boolean {
    return (this.delivered ?? 0n) >= joining.lastSeq;
  }

  /** The boundary, synchronously: the backlog without what the replay sent, then live. */
  private admit(subscriber: S, joining: Joining): void {
    const backlog: OutgoingFrame[] = [];
    for (const { frame, seq } of joining.backlog) {
      if (seq !== undefined) {
        if (seq <= joining.lastSeq) continue;
        joining.lastSeq = seq;
      }
      backlog.push(frame);
    }
    this.joining.delete(subscriber);
    this.live.add(subscriber);
    joining.goLive(backlog, joining.lastSeq);
    joining.waiting?.(true);
  }

  /** Subscribers whose replay ran ahead of the room, now that it caught up. */
  private admitWaiting(): void {
    for (const [subscriber, joining] of [...this.joining]) {
      if (joining.waiting && this.caughtUp(joining) && this.joining.get(subscriber) === joining) this.admit(subscriber, joining);
    }
  }

  private deliver(message: Message): void {
    this.delivered = message.seq;
    this.held.delete(message.seq);
    this.relay(createdFrame(message), message.seq);
    this.admitWaiting();
  }

  private releaseHeld(): void {
    if (this.delivered === undefined) return;
    for (const seq of [...this.held.keys()].sort(bySeq)) {
      if (seq <= this.delivered) this.held.delete(seq);
      else if (seq === this.delivered + 1n) this.deliver(this.held.get(seq)!);
      else break;
    }
    if (this.held.size > 0 && !this.filling) void this.fill();
  }

  private anySubscriber(): { subscriber: S } | undefined {
    for (const subscriber of this.live) return { subscriber };
    for (const subscriber of this.joining.keys()) return { subscriber };
    return undefined;
  }

  /** Reads the messages after the last delivered seq from the store, in order. */
  private async fill(): Promise<void> {
    if (this.filling || this.closed || this.delivered === undefined) return;
    const reader = this.anySubscriber();
    if (!reader) return;
    this.filling = true;
    const from = this.delivered;
    let failed = false;
    try {
      let hasNewer = true;
      while (hasNewer && !this.closed) {
        const page = await this.options.read(this.delivered, this.pageSize, reader.subscriber);
        if (page.lastSeq > this.head) this.head = page.lastSeq;
        for (const message of page.messages) if (message.seq === this.delivered + 1n) this.deliver(message);
        hasNewer = page.hasNewer && page.messages.length > 0;
      }
    } catch (error) {
      failed = true;
      this.options.onFillError?.(error);
    } finally {
      this.filling = false;
    }
    // Messages that arrived while filling may now be next in line.
    this.releaseHeld();
    // A head noted while this fill was under way, past where it ended: go on (if it got anywhere).
    if (!failed && !this.filling && this.delivered > from && this.head > this.delivered) void this.fill();
  }
}
