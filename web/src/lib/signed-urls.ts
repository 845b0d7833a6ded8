// Signed download URLs (issue 19): a browser's <img>, <video> and download link send no
// Authorization header, so each file is read through a short-lived URL the edge signs
// (files.signUrls). Everything a screen asks for in one tick goes in one call per variant (at most
// MAX_BATCH ids each); an answer is kept until shortly before it expires, and asked for once
// however many parts of the screen want it. A file the server leaves out (not readable: a room
// left, a message deleted) is answered undefined, and asked again next time.
export type FileVariant = "original" | "thumbnail";

export interface SignedUrl {
  fileId: string;
  url: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export type SignUrls = (fileIds: string[], variant: FileVariant) => Promise<SignedUrl[]>;

/** The server's own limit on one SignFileUrls call. */
export const MAX_BATCH = 200;
/** An URL this close to its expiry is signed again: a download started now must not run out mid-way. */
export const EXPIRY_MARGIN_MS = 60_000;

export interface SignedUrlCache {
  /** The URL for a file's variant: from the cache while it is fresh, else from the next batch. */
  get(fileId: string, variant?: FileVariant): Promise<string | undefined>;
  /** The URL, only if it is in the cache and fresh (no call). */
  peek(fileId: string, variant?: FileVariant): string | undefined;
  /** When a cached URL stops being fresh (to ask again then), if it is cached. */
  freshUntil(fileId: string, variant?: FileVariant): number | undefined;
  /** Forgets every URL (signed out). */
  clear(): void;
}

interface Waiter {
  resolve(url: string | undefined): void;
  reject(error: unknown): void;
}

export function createSignedUrlCache(options: {
  sign: SignUrls;
  now?: () => number;
  /** How a batch waits for the rest of the tick's asks (a microtask by default). */
  schedule?: (run: () => void) => void;
  marginMs?: number;
}): SignedUrlCache {
  const now = options.now ?? Date.now;
  const schedule = options.schedule ?? queueMicrotask;
  const margin = options.marginMs ?? EXPIRY_MARGIN_MS;
  const cache = new Map<string, SignedUrl>();
  /** Asked for and not yet sent, by variant: the waiters of each id. */
  const queued: Record<FileVariant, Map<string, Waiter[]>> = { original: new Map(), thumbnail: new Map() };
  /** Sent and not yet answered: one promise per key, shared by later asks. */
  const inFlight = new Map<string, Promise<string | undefined>>();
  let scheduled = false;

  const keyOf = (fileId: string, variant: FileVariant) => `${variant}:${fileId}`;
  const fresh = (entry: SignedUrl | undefined) => (entry && now() < entry.expiresAt - margin ? entry : undefined);

  function flush(): void {
    scheduled = false;
    for (const variant of ["original", "thumbnail"] as const) {
      const waiting = queued[variant];
      if (waiting.size === 0) continue;
      const ids = [...waiting.keys()];
      queued[variant] = new Map();
      for (let start = 0; start < ids.length; start += MAX_BATCH) {
        const chunk = ids.slice(start, start + MAX_BATCH);
        void send(chunk, variant, waiting);
      }
    }
  }

  async function send(ids: string[], variant: FileVariant, waiting: Map<string, Waiter[]>): Promise<void> {
    try {
      const answers = await options.sign(ids, variant);
      const byId = new Map(answers.map((a) => [a.fileId, a]));
      for (const id of ids) {
        const answer = byId.get(id);
        if (answer) cache.set(keyOf(id, variant), answer);
        for (const waiter of waiting.get(id) ?? []) waiter.resolve(answer?.url);
      }
    } catch (error) {
      for (const id of ids) for (const waiter of waiting.get(id) ?? []) waiter.reject(error);
    }
  }

  return {
    get(fileId, variant = "original") {
      const key = keyOf(fileId, variant);
      const cached = fresh(cache.get(key));
      if (cached) return Promise.resolve(cached.url);
      const running = inFlight.get(key);
      if (running) return running;
      const promise = new Promise<string | undefined>((resolve, reject) => {
        const list = queued[variant].get(fileId) ?? [];
        list.push({ resolve, reject });
        queued[variant].set(fileId, list);
      }).finally(() => inFlight.delete(key));
      inFlight.set(key, promise);
      if (!scheduled) {
        scheduled = true;
        schedule(flush);
      }
      return promise;
    },
    peek(fileId, variant = "original") {
      return fresh(cache.get(keyOf(fileId, variant)))?.url;
    },
    freshUntil(fileId, variant = "original") {
      const entry = fresh(cache.get(keyOf(fileId, variant)));
      return entry ? entry.expiresAt - margin : undefined;
    },
    clear() {
      cache.clear();
    },
  };
}
