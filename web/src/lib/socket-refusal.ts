// A socket tier that refuses this page's origin (HTTP 403 on the upgrade) looks, to a browser,
// like any failed connection: the status of a refused WebSocket cannot be read. So while the
// socket is not live, the app asks the socket tier over HTTP (a plain GET of the socket URL)
// whether it admits this origin, and shows the answer instead of reconnecting in silence.
import type { LiveClient } from "@parley/client";

const RECHECK_MS = 10_000;

/** The socket tier's refusal of this origin, or undefined when it admits it (or cannot be asked). */
export async function askSocketTier(socketUrl: string): Promise<string | undefined> {
  const url = new URL(socketUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  try {
    const response = await fetch(url, { cache: "no-store", headers: { accept: "application/json" } });
    if (response.status !== 403) return undefined;
    const body = (await response.json()) as { origin?: unknown; message?: unknown };
    if (body.origin !== "refused") return undefined;
    return typeof body.message === "string" ? body.message : "origin not allowed";
  } catch {
    // Unreachable, or an older socket tier: nothing more to say than "reconnecting".
    return undefined;
  }
}

/** Calls `onRefusal` with the refusal while the client cannot connect, and with undefined once it is live. */
export function watchSocketRefusal(client: LiveClient, socketUrl: string, onRefusal: (message: string | undefined) => void): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let watching = false;
  let stopped = false;
  const check = async () => {
    const refusal = await askSocketTier(socketUrl);
    if (stopped || !watching) return;
    onRefusal(refusal);
    timer = setTimeout(() => void check(), RECHECK_MS);
  };
  client.on("state", (state) => {
    if (state === "live") {
      watching = false;
      clearTimeout(timer);
      onRefusal(undefined);
    } else if (state === "reconnecting" && !watching) {
      watching = true;
      void check();
    }
  });
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
