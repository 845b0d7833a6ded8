// Whether a token's session has ended, for the edge and the socket tier: a signed
// access token stays valid until it expires, so each request also asks this cache,
// which asks AuthService.CheckSessions. An answer "active" is trusted for ttlMs at
// most, so a logout is seen everywhere within that time even if no event about it
// arrives; "ended" is final. Lookups of one tick go out as one batched call.

export interface SessionStates {
  /** True when the session has ended. Rejects when the auth service cannot be asked (fail closed). */
  isEnded(sessionId: string): Promise<boolean>;
  /** Records sessions known to have ended (heard from the broker), ahead of the next check. */
  markEnded(sessionIds: Iterable<string>): void;
}

export interface SessionStatesOptions {
  /** AuthService.CheckSessions: the ended ones among at most `batchSize` ids. */
  check: (sessionIds: string[]) => Promise<string[]>;
  /** How long an "active" answer is used before asking again. */
  ttlMs: number;
  /** Sessions remembered at most (the oldest answers are dropped first). */
  maxEntries?: number;
  batchSize?: number;
}

export function createSessionStates(options: SessionStatesOptions): SessionStates {
  const maxEntries = options.maxEntries ?? 100_000;
  const batchSize = options.batchSize ?? 1000;
  const known = new Map<string, { ended: boolean; at: number }>();
  const inFlight = new Map<string, Promise<boolean>>();
  let batch: { ids: Set<string>; ended: Promise<Set<string>> } | undefined;

  const remember = (id: string, ended: boolean) => {
    known.delete(id); // re-inserted at the end: the Map's order is the age order
    known.set(id, { ended, at: Date.now() });
    if (known.size > maxEntries) known.delete(known.keys().next().value!);
  };

  const askAll = async (ids: string[]): Promise<Set<string>> => {
    const ended = new Set<string>();
    for (let i = 0; i < ids.length; i += batchSize) {
      const page = ids.slice(i, i + batchSize);
      const answer = new Set(await options.check(page));
      for (const id of page) {
        if (answer.has(id)) ended.add(id);
        // An ended mark that came in while asking wins over an older "active".
        if (!known.get(id)?.ended) remember(id, answer.has(id));
      }
    }
    return ended;
  };

  const lookup = (id: string): Promise<boolean> => {
    const pending = inFlight.get(id);
    if (pending) return pending;
    if (!batch) {
      const ids = new Set<string>();
      batch = {
        ids,
        ended: new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
          batch = undefined;
          return askAll([...ids]);
        }),
      };
    }
    batch.ids.add(id);
    const answer = batch.ended.then((ended) => ended.has(id) || known.get(id)?.ended === true).finally(() => inFlight.delete(id));
    inFlight.set(id, answer);
    return answer;
  };

  return {
    isEnded(sessionId) {
      const entry = known.get(sessionId);
      if (entry && (entry.ended || Date.now() - entry.at < options.ttlMs)) return Promise.resolve(entry.ended);
      return lookup(sessionId);
    },
    markEnded(sessionIds) {
      for (const id of sessionIds) remember(id, true);
    },
  };
}
