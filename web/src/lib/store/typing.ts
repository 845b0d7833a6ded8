// Who is typing in each room (shown for a few seconds after each signal), and telling
// a room that I am (at most every 2.5 s, and only while the socket is up).
import { createSignal } from "solid-js";
import { createStore } from "solid-js/store";
import type { Connection } from "./connection";
import { useChat } from "./context";

const TYPING_SHOWN_MS = 6_000;
/** The server relays one typing signal every 2 s at most: sending more often is wasted. */
const TYPING_SEND_EVERY_MS = 2_500;

export type Typing = ReturnType<typeof createTyping>;

export function createTyping(deps: { myId: string; connection: Connection }) {
  const { myId, connection } = deps;
  /** Room → user → until when (epoch ms) they count as typing. */
  const [typing, setTyping] = createStore<Record<string, Record<string, number>>>({});
  const [now, setNow] = createSignal(Date.now());
  let ticker: ReturnType<typeof setInterval> | undefined;
  /** When this device last told each room that I am typing. */
  const sentAt = new Map<string, number>();

  function typingIn(roomId: string): string[] {
    const t = now();
    const entries = typing[roomId];
    if (!entries) return [];
    return Object.entries(entries)
      .filter(([userId, until]) => until > t && userId !== myId)
      .map(([userId]) => userId);
  }

  function saw(roomId: string, userId: string): void {
    if (userId === myId) return;
    setTyping(roomId, (entries) => ({ ...(entries ?? {}), [userId]: Date.now() + TYPING_SHOWN_MS }));
    setNow(Date.now());
    ticker ??= setInterval(() => {
      setNow(Date.now());
      const active = Object.values(typing).some((entries) => Object.values(entries).some((until) => until > Date.now()));
      if (!active) {
        clearInterval(ticker);
        ticker = undefined;
      }
    }, 1000);
  }

  /** Someone's message arrived: they are done typing it. */
  function stopped(roomId: string, userId: string): void {
    if (typing[roomId]?.[userId]) setTyping(roomId, userId, 0);
  }

  function iAmTyping(roomId: string): void {
    const live = connection.live();
    if (Date.now() - (sentAt.get(roomId) ?? 0) < TYPING_SEND_EVERY_MS || !live) return;
    sentAt.set(roomId, Date.now());
    live.typing(roomId);
  }

  return {
    typingIn,
    saw,
    stopped,
    iAmTyping,
    close(): void {
      clearInterval(ticker);
    },
  };
}

export const useTyping = (): Typing => useChat().typing;
