// What the two test sinks (push-sink.ts, smtp-sink.ts) share: waiting on their events for a
// condition (a marker, never a sleep), and holding the n-th request until the test releases it.
import type { EventEmitter } from "node:events";

/** Resolves once `done()` holds, checked now and on every `event`; rejects after timeoutMs naming `what()`. */
export function waitUntil(events: EventEmitter, sink: string, done: () => boolean, event: string, timeoutMs: number, what: () => string): Promise<void> {
  if (done()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      events.off(event, listener);
      reject(new Error(`${sink}: ${what()} after ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = () => {
      if (!done()) return;
      clearTimeout(timer);
      events.off(event, listener);
      resolve();
    };
    events.on(event, listener);
  });
}

/** The sink's side of a held request: it reports the arrival, waits for the release, then says whether it counted. */
export interface HoldState<Arrival, Reply> {
  n: number;
  arrived: (value: Arrival) => void;
  released: Promise<Reply | undefined>;
  release: (reply: Reply | undefined) => void;
  counted: Promise<boolean>;
  setCounted: (value: boolean) => void;
}

/** The test's side: when it arrived, and release(reply) -> whether the sink counted it as received. */
export interface Hold<Arrival, Reply> {
  n: number;
  arrived: Promise<Arrival>;
  release(reply?: Reply): Promise<boolean>;
}

export function createHold<Arrival, Reply>(n: number): { state: HoldState<Arrival, Reply>; hold: Hold<Arrival, Reply> } {
  let arrived!: (value: Arrival) => void;
  let release!: (reply: Reply | undefined) => void;
  let setCounted!: (value: boolean) => void;
  const arrival = new Promise<Arrival>((resolve) => (arrived = resolve));
  const released = new Promise<Reply | undefined>((resolve) => (release = resolve));
  const counted = new Promise<boolean>((resolve) => (setCounted = resolve));
  return {
    state: { n, arrived, released, release, counted, setCounted },
    hold: {
      n,
      arrived: arrival,
      release(reply) {
        release(reply);
        return counted;
      },
    },
  };
}
