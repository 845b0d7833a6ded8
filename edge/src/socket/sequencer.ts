// The per-lane sequencer: every subscriber of a room on this node gets each change of one lane of
// the room's stream (its messages, or the room itself: see socket.proto, StreamPosition) once, in
// position order, whatever the broker does (events late, out of order, twice or never).
//
// Positions are gapless per room and lane, taken in each change's transaction under a row lock,
// so they commit in order and a hole is visible:
// - A live change ahead of a hole is held; the hole is filled from the store (the injected reader)
//   and the held ones follow. A change at or below what was delivered is dropped.
// - A read covers the lane up to where it says (Page.lastChange), each item at its latest change:
//   a position it skips was superseded by a later change of the same item (a message edited
//   twice), so the lane moves on to the page's end, and held changes it covers are dropped.
// - A new subscriber is replayed from the store after its position while live frames for it wait
//   in a backlog; at the boundary the backlog is flushed without what the replay already covered,
//   and the subscriber goes live only once the lane has been delivered up to where its replay
//   ended (otherwise the live stream would repeat what it just replayed).
// - What a replay reads is fed back as if it came live: the room's other subscribers get it too.
//
// No uWebSockets.js here: the node publishes, sends and paces for it (SequencerOutput).
import type { OutgoingFrame } from "./protocol.js";

export interface Page<T> {
  /** Ascending by position; each at its latest change. */
  items: T[];
  /** More after this page, up to the head the page was read against. */
  hasMore: boolean;
  /** The lane is covered up to here: the last item's position with hasMore, else the head when read. */
  lastChange: bigint;
  /** The room's newest seq when read (the message lane; Live.last_seq). */
  lastSeq?: bigint;
}

/**
 * Reads the lane after a position on behalf of a subscriber (the store checks membership).
 * `afterSeq` (the deprecated Subscribe.after_seq) instead of a position, for a subscriber's first page.
 */
export type LaneReader<S, T> = (after: bigint, limit: number, onBehalfOf: S, afterSeq?: bigint) => Promise<Page<T>>;

export interface SequencerOutput<S> {
  /** To every live subscriber of the lane at once (the node publishes on the lane's topics). */
  publish(frame: OutgoingFrame): void;
  /** To one subscriber that is not live yet (a page of its replay). */
  send(subscriber: S, frames: OutgoingFrame[]): void;
  /** Resolves when the subscriber may take the next replay page (the node waits for drain). */
  paced(subscriber: S): Promise<void>;
}

/** Called once, synchronously, when a subscriber goes live: send `backlog`, then subscribe it to what publish() reaches. */
export type GoLive = (backlog: OutgoingFrame[], position: bigint) => void;

/** Where a subscriber's replay starts: a position, a seq (deprecated), or nowhere (live only). */
export type ReplayFrom = { after: bigint } | { afterSeq: bigint } | undefined;

interface Joining {
  /** Frames published while this subscriber was not live, with the position of stream ones. */
  backlog: { frame: OutgoingFrame; position?: bigint }[];
  /** The position up to which this subscriber has been sent the lane (or told it has). */
  position: bigint;
  goLive: GoLive;
  /**
   * The position after which the backlog holds every delivered change: the lane's delivered
   * position when the subscriber came (or when the lane's start became known). The replay must reach it.
   */
  coveredFrom?: bigint;
  /** Set while the replay is done and the lane is not yet delivered up to `position`. */
  waiting?: (live: boolean) => void;
}

export interface SequencerOptions<S, T> {
  read: LaneReader<S, T>;
  output: SequencerOutput<S>;
  /** An item's position in the lane. */
  positionOf(item: T): bigint;
  /** The frame an item becomes (with ServerFrame.position set). */
  frameOf(item: T): OutgoingFrame;
  /** The room's seq an item carries, if any (the newest one is Live.last_seq). */
  seqOf?(item: T): bigint;
  /** After an item was delivered in order (live or filled): the node's side effects (a kick ends subscriptions). */
  delivered?(item: T): void;
  /** Items per read (at most the store's page). */
  pageSize?: number;
  /** A fill that failed: the next noteHead (head check) tries again. */
  onFillError?: (error: unknown) => void;
}

const byPosition = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

export class LaneSequencer<S, T> {
  /** Highest position delivered in order; undefined until the lane's head is known. */
  private delivered?: bigint;
  /** Highest head the store reported: a fill that stops short of it goes on. */
  private head = 0n;
  /**
   * The newest seq delivered in order (Live.last_seq): never one that waits behind a hole, which
   * a subscriber going live would take as delivered and then drop as a repeat when it comes.
   */
  private newestSeq = 0n;
  /** Changes that arrived ahead of a hole, by position. */
  private readonly held = new Map<bigint, T>();
  private filling = false;
  private closed = false;
  private readonly joining = new Map<S, Joining>();
  private readonly live = new Set<S>();
  private readonly pageSize: number;

  constructor(private readonly options: SequencerOptions<S, T>) {
    this.pageSize = options.pageSize ?? 100;
  }

  /** Highest position delivered to the lane in order, undefined until the head is known. */
  get position(): bigint | undefined {
    return this.delivered;
  }

  /** The room's newest seq delivered on this lane (items and reads that covered the lane). */
  get lastSeq(): bigint {
    return this.newestSeq;
  }

  isLive(subscriber: S): boolean {
    return this.live.has(subscriber);
  }

  /** A change of the lane, from the broker or read from the store. */
  accept(item: T): void {
    if (this.closed) return;
    const position = this.options.positionOf(item);
    if (this.delivered === undefined || position > this.delivered + 1n) {
      if (this.delivered === undefined || position > this.delivered) this.held.set(position, item);
      if (this.delivered !== undefined) void this.fill();
      return;
    }
    if (position <= this.delivered) return; // already delivered, or covered by a read
    this.deliver(item);
    this.releaseHeld();
  }

  /** A frame outside the lane's order (typing, presence): to live subscribers now, to joining ones at their boundary. */
  relay(frame: OutgoingFrame): void {
    if (this.closed) return;
    this.publish(frame);
  }

  /** The lane's newest position as the store knows it (the first read, a head check): sets the start or fills up to it. */
  noteHead(lastChange: bigint, lastSeq?: bigint): void {
    if (this.closed) return;
    if (lastChange > this.head) this.head = lastChange;
    // The seq read with a head is delivered once the lane has reached that head.
    if (lastSeq !== undefined && lastSeq > this.newestSeq && (this.delivered === undefined || lastChange <= this.delivered)) this.newestSeq = lastSeq;
    if (this.delivered === undefined) {
      this.delivered = lastChange;
      for (const joining of this.joining.values()) joining.coveredFrom = lastChange;
      this.releaseHeld();
      this.admitWaiting();
    } else if (lastChange > this.delivered) {
      void this.fill();
    }
  }

  /**
   * Replays the lane to `subscriber` after `from` (no replay when undefined), then makes it live.
   * Subscribing a subscriber again restarts it from the new position. Resolves true once live, false
   * if it was unsubscribed (or the lane closed) meanwhile; rejects when the store cannot be read or
   * refuses the position (the subscriber is then dropped).
   */
  async subscribe(subscriber: S, from: ReplayFrom, goLive: GoLive): Promise<boolean> {
    this.unsubscribe(subscriber);
    const start = from && "after" in from ? from.after : (this.delivered ?? 0n);
    const joining: Joining = { backlog: [], position: start, goLive, coveredFrom: this.delivered };
    this.joining.set(subscriber, joining);
    const current = () => !this.closed && this.joining.get(subscriber) === joining;
    try {
      let afterSeq = from && "afterSeq" in from ? from.afterSeq : undefined;
      let more = from !== undefined;
      while (more) {
        const page = await this.options.read(joining.position, this.pageSize, subscriber, afterSeq);
        afterSeq = undefined;
        if (!current()) return false;
        if (page.items.length > 0) this.options.output.send(subscriber, page.items.map((item) => this.options.frameOf(item)));
        joining.position = page.lastChange;
        for (const item of page.items) this.accept(item);
        if (!page.hasMore) this.noteHead(page.lastChange, page.lastSeq);
        await this.options.output.paced(subscriber);
        if (!current()) return false;
        // A read older than what the backlog starts from leaves a gap between them: read on.
        more = page.hasMore || joining.position < (joining.coveredFrom ?? 0n);
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

  private noteSeq(item: T): void {
    const seq = this.options.seqOf?.(item);
    if (seq !== undefined && seq > this.newestSeq) this.newestSeq = seq;
  }

  private caughtUp(joining: Joining): boolean {
    return this.delivered !== undefined && this.delivered >= joining.position;
  }

  private publish(frame: OutgoingFrame, position?: bigint): void {
    this.options.output.publish(frame);
    for (const joining of this.joining.values()) joining.backlog.push({ frame, position });
  }

  /** The boundary, synchronously: the backlog without what the replay covered, then live. */
  private admit(subscriber: S, joining: Joining): void {
    const backlog: OutgoingFrame[] = [];
    for (const { frame, position } of joining.backlog) {
      if (position !== undefined) {
        if (position <= joining.position) continue;
        joining.position = position;
      }
      backlog.push(frame);
    }
    this.joining.delete(subscriber);
    this.live.add(subscriber);
    joining.goLive(backlog, joining.position);
    joining.waiting?.(true);
  }

  /** Subscribers whose replay ran ahead of the lane, now that it caught up. */
  private admitWaiting(): void {
    for (const [subscriber, joining] of [...this.joining]) {
      if (joining.waiting && this.caughtUp(joining) && this.joining.get(subscriber) === joining) this.admit(subscriber, joining);
    }
  }

  private deliver(item: T): void {
    const position = this.options.positionOf(item);
    this.delivered = position;
    this.noteSeq(item);
    this.held.delete(position);
    this.publish(this.options.frameOf(item), position);
    this.options.delivered?.(item);
    this.admitWaiting();
  }

  /** A read covered the lane up to `position`: what it skipped was superseded. */
  private coverUpTo(position: bigint): void {
    if (this.delivered === undefined || position <= this.delivered) return;
    this.delivered = position;
    this.admitWaiting();
  }

  private releaseHeld(): void {
    if (this.delivered === undefined) return;
    for (const position of [...this.held.keys()].sort(byPosition)) {
      if (position <= this.delivered) this.held.delete(position);
      else if (position === this.delivered + 1n) this.deliver(this.held.get(position)!);
      else break;
    }
    if (this.held.size > 0 && !this.filling) void this.fill();
  }

  private anySubscriber(): { subscriber: S } | undefined {
    for (const subscriber of this.live) return { subscriber };
    for (const subscriber of this.joining.keys()) return { subscriber };
    return undefined;
  }

  /** Reads the lane after the delivered position from the store, in order. */
  private async fill(): Promise<void> {
    if (this.filling || this.closed || this.delivered === undefined) return;
    const reader = this.anySubscriber();
    if (!reader) return;
    this.filling = true;
    const from = this.delivered;
    let failed = false;
    try {
      let more = true;
      while (more && !this.closed) {
        const page = await this.options.read(this.delivered, this.pageSize, reader.subscriber);
        if (page.lastChange > this.head) this.head = page.lastChange;
        for (const item of page.items) {
          if (this.options.positionOf(item) > this.delivered) this.deliver(item);
        }
        // A last page covers the lane up to the head it was read against, and so every seq then.
        if (!page.hasMore && page.lastSeq !== undefined && page.lastSeq > this.newestSeq) this.newestSeq = page.lastSeq;
        this.coverUpTo(page.lastChange);
        more = page.hasMore;
      }
    } catch (error) {
      failed = true;
      this.options.onFillError?.(error);
    } finally {
      this.filling = false;
    }
    // Changes that arrived while filling may now be next in line (or covered).
    this.releaseHeld();
    // A head noted while this fill was under way, past where it ended: go on (if it got anywhere).
    if (!failed && !this.filling && this.delivered > from && this.head > this.delivered) void this.fill();
  }
}
