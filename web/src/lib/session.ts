// The signed-in session: the refresh token lives in localStorage (so a reload
// keeps you signed in), the 15-minute access token is renewed silently before
// it expires and on a 401. Tabs share one session: a refresh is serialised
// across tabs with the Web Locks API, because presenting a rotated refresh
// token twice ends the session.
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import { createSignal } from "solid-js";
import type { AppRouter, AuthResult } from "./types";

const KEY = "parley.session";
/** Renew this long before the access token expires. */
const LEAD_MS = 60_000;

interface StoredSession {
  userId: string;
  refreshToken: string;
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
  /** The access token's lifetime in ms (for how early to renew it). */
  lifetime: number;
}

/** How long before expiry to renew: a minute, or a quarter of a short lifetime. */
const leadOf = (s: StoredSession) => Math.min(LEAD_MS, s.lifetime / 4);

/** Raised when there is no session any more: the user has to sign in again. */
export class SignedOutError extends Error {
  override name = "SignedOutError";
}

// Public procedures only (login, register, refresh, logout): no token, no retry.
export const publicApi = createTRPCClient<AppRouter>({ links: [httpLink({ url: "/trpc" })] });

const [session, setSession] = createSignal<StoredSession | null>(read());
/** Why the last session ended, shown on the sign-in screen. */
const [endReason, setEndReason] = createSignal<string | null>(null);

export const signedInUserId = () => session()?.userId ?? null;
export const isSignedIn = () => session() !== null;
export { endReason };

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let inflight: Promise<string> | null = null;

function read(): StoredSession | null {
  try {
    const raw = globalThis.localStorage?.getItem(KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<StoredSession>;
    if (typeof value.refreshToken !== "string" || typeof value.userId !== "string") return null;
    return {
      userId: value.userId,
      refreshToken: value.refreshToken,
      accessToken: typeof value.accessToken === "string" ? value.accessToken : "",
      expiresAt: typeof value.expiresAt === "number" ? value.expiresAt : 0,
      lifetime: typeof value.lifetime === "number" && value.lifetime > 0 ? value.lifetime : 15 * 60_000,
    };
  } catch {
    return null;
  }
}

/** False when localStorage refuses writes (some private modes): the session then lives in this tab only. */
let storageWorks = true;

function write(value: StoredSession | null): void {
  try {
    if (value) localStorage.setItem(KEY, JSON.stringify(value));
    else localStorage.removeItem(KEY);
    storageWorks = true;
  } catch {
    storageWorks = false;
  }
  setSession(value);
  schedule();
}

function schedule(): void {
  clearTimeout(refreshTimer);
  const current = session();
  if (!current) return;
  const delay = Math.max(1_000, current.expiresAt - Date.now() - leadOf(current));
  refreshTimer = setTimeout(() => void refreshAccessToken().catch(() => undefined), delay);
}

/** Starts a session from a login, a registration or a refresh. */
export function adopt(auth: AuthResult): void {
  setEndReason(null);
  write({
    userId: auth.user.id,
    refreshToken: auth.refreshToken,
    accessToken: auth.accessToken,
    expiresAt: Date.now() + auth.expiresIn * 1000,
    lifetime: auth.expiresIn * 1000,
  });
}

/** Ends the session on this device only (the server is told separately). */
export function endSession(reason: string | null = null): void {
  setEndReason(reason);
  write(null);
}

/** A valid access token, renewed first when it is about to expire. */
export async function accessToken(): Promise<string> {
  const current = session();
  if (!current) throw new SignedOutError("signed out");
  if (current.accessToken && current.expiresAt - Date.now() > leadOf(current)) return current.accessToken;
  return refreshAccessToken();
}

/** Trades the refresh token for a new pair (once at a time, across tabs). */
export function refreshAccessToken(): Promise<string> {
  inflight ??= withRefreshLock(renew).finally(() => {
    inflight = null;
  });
  return inflight;
}

async function renew(): Promise<string> {
  const mine = session();
  const latest = storageWorks ? read() : mine;
  if (!mine || !latest || latest.userId !== mine.userId) {
    endSession(latest ? null : "You were signed out.");
    throw new SignedOutError("signed out");
  }
  // Another tab renewed it a moment ago: use its tokens.
  if (latest.refreshToken !== mine.refreshToken && latest.expiresAt - Date.now() > leadOf(latest)) {
    setSession(latest);
    schedule();
    return latest.accessToken;
  }
  try {
    const auth = await publicApi.auth.refresh.mutate({ refreshToken: latest.refreshToken });
    adopt(auth);
    return auth.accessToken;
  } catch (error) {
    if (isRejected(error)) {
      endSession("Your session has ended. Please sign in again.");
      throw new SignedOutError("session ended");
    }
    throw error;
  }
}

function withRefreshLock<T>(task: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  return locks ? (locks.request("parley.refresh", task) as Promise<T>) : task();
}

/** The server refused the token (as opposed to a network or server failure). */
export function isRejected(error: unknown): boolean {
  return error instanceof TRPCClientError && (error.data as { code?: string } | undefined)?.code === "UNAUTHORIZED";
}

/** Signs out this device: ends the server session, then forgets it. */
export async function signOut(): Promise<void> {
  const current = session();
  endSession(null);
  if (current) await publicApi.auth.logout.mutate({ refreshToken: current.refreshToken }).catch(() => undefined);
}

// Another tab signed in, renewed, or signed out.
globalThis.addEventListener?.("storage", (event: StorageEvent) => {
  if (event.key !== KEY && event.key !== null) return;
  const latest = read();
  const mine = session();
  if (!latest) {
    if (mine) endSession("You signed out in another tab.");
    return;
  }
  if (mine && latest.userId !== mine.userId) {
    // Someone else signed in on this browser: start over as them.
    location.reload();
    return;
  }
  if (!mine || latest.refreshToken !== mine.refreshToken) {
    setSession(latest);
    schedule();
  }
});

schedule();
