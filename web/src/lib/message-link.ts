// Links to a message: /rooms/:id#seq-N (the "Copy link" action). Opening one scrolls the room to
// that message and highlights it for a moment. A message older than the history loaded is brought
// in first: pages by keyset (`before` the oldest loaded seq) until it is in, so the history held
// stays one run without gaps (what the room's stream and the scroll position rely on).
import { useLocation } from "@solidjs/router";
import { createEffect, on, onCleanup } from "solid-js";
import type { Timeline } from "./store/timelines";

/** How long a message opened by a link stays highlighted. */
export const HIGHLIGHT_MS = 2_500;

export function messageLink(roomId: string, seq: number): string {
  return `${location.origin}/rooms/${roomId}#seq-${seq}`;
}

/** The seq a location hash points at (#seq-N), if any. */
export function seqOfHash(hash: string): number | undefined {
  const match = /^#?seq-(\d{1,15})$/.exec(hash);
  const seq = match ? Number(match[1]) : NaN;
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

/** Scrolls `scroller` to the message `seq` of the timeline (loading older pages for it) and highlights it. */
export async function jumpToSeq(timeline: Timeline, scroller: () => HTMLElement | undefined, seq: number, notify: (text: string) => void): Promise<boolean> {
  while (timeline.status() === "ready" && timeline.hasOlder() && (timeline.messages()[0]?.seq ?? 0) > seq) {
    const loaded = await timeline.loadOlder();
    if (loaded === 0) break;
  }
  // Rendered after the page lands: wait a frame for the list to have it.
  await new Promise((resolve) => requestAnimationFrame(resolve));
  const element = scroller()?.querySelector<HTMLElement>(`[data-seq="${seq}"]`);
  if (!element) {
    notify(`Message ${seq} is not in this room's history.`);
    return false;
  }
  highlightMessage(element);
  return true;
}

/** Scrolls a message's element into view and highlights it for a moment. */
export function highlightMessage(element: HTMLElement): void {
  element.scrollIntoView({ block: "center" });
  element.classList.add("flash");
  element.dataset.highlighted = "true";
  setTimeout(() => {
    element.classList.remove("flash");
    delete element.dataset.highlighted;
  }, HIGHLIGHT_MS);
}

/** Follows the location's #seq-N while the room is open: on opening it, and when the hash changes. */
export function followMessageLinks(options: { timeline: Timeline; scroller: () => HTMLElement | undefined; notify: (text: string) => void }): void {
  const location = useLocation();
  let cancelled = false;
  onCleanup(() => {
    cancelled = true;
  });
  createEffect(
    on(
      () => [seqOfHash(location.hash), options.timeline.status() === "ready"] as const,
      ([seq, ready]) => {
        if (seq === undefined || !ready) return;
        // After the room's first positioning (at the end or the "new messages" line), which runs in a frame.
        requestAnimationFrame(() => {
          if (!cancelled) void jumpToSeq(options.timeline, options.scroller, seq, options.notify);
        });
      },
    ),
  );
}
