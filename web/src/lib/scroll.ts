// How a room's message list scrolls: it opens at the "new messages" line (or at the end),
// follows new messages while you are at the end and counts them while you are not, loads
// older pages as you near the top without moving what you are reading, and says whether
// the newest message is being read (at the end, with the page visible).
import { createEffect, createSignal, on, onCleanup, untrack, type Accessor } from "solid-js";
import type { Timeline } from "./store/timelines";
import { firstUnreadSeq } from "./timeline";

/** Within this many pixels of the end counts as "at the newest message". */
const BOTTOM_SLACK = 48;
/** Older messages load when the top is this close. */
const TOP_SLACK = 400;

export interface TimelineScroll {
  /** The scrolling element (pass as `ref`). */
  ref(element: HTMLDivElement): void;
  onScroll(): void;
  atBottom: Accessor<boolean>;
  /** Messages from others that arrived below while scrolled up. */
  newBelow: Accessor<number>;
  /** Where the "new messages" line goes. */
  markerSeq: Accessor<number | undefined>;
  /** The newest message is on screen and the page is visible: arrivals are read as they come. */
  reading: Accessor<boolean>;
  scrollToBottom(): void;
}

export function createTimelineScroll(options: { timeline: Timeline; myId: string; lastReadSeq: number }): TimelineScroll {
  const { timeline, myId } = options;
  const [markerSeq, setMarkerSeq] = createSignal<number | undefined>();
  const [atBottom, setAtBottom] = createSignal(true);
  const [visible, setVisible] = createSignal(document.visibilityState === "visible");
  const [newBelow, setNewBelow] = createSignal(0);
  let scroller!: HTMLDivElement;
  let positioned = false;
  /** The newest seq and the number of sends already taken into account. */
  let seenSeq = 0;
  let seenPending = 0;

  const onVisibility = () => setVisible(document.visibilityState === "visible");
  document.addEventListener("visibilitychange", onVisibility);
  onCleanup(() => document.removeEventListener("visibilitychange", onVisibility));

  const reading = () => atBottom() && visible() && timeline.status() === "ready";

  const isAtBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < BOTTOM_SLACK;
  const scrollToBottom = () => {
    scroller.scrollTop = scroller.scrollHeight;
    setAtBottom(true);
    setNewBelow(0);
  };

  const loadOlder = async () => {
    if (!timeline.hasOlder() || timeline.loadingOlder()) return;
    let fromBottom = 0;
    await timeline.loadOlder({
      before: () => {
        fromBottom = scroller.scrollHeight - scroller.scrollTop;
      },
      // What was on screen stays where it was: the new page grows above it.
      after: () => {
        scroller.scrollTop = scroller.scrollHeight - fromBottom;
      },
    });
  };

  /** Loads older pages until the list can scroll (or there is nothing older). */
  const fillViewport = async () => {
    while (scroller.isConnected && scroller.scrollHeight <= scroller.clientHeight + TOP_SLACK / 4 && timeline.hasOlder()) {
      const before = timeline.messages().length;
      await loadOlder();
      if (timeline.messages().length === before) break;
    }
  };

  // First position: at the "new messages" line when there are unread messages, else at the end.
  createEffect(() => {
    if (timeline.status() !== "ready" || positioned) return;
    positioned = true;
    seenSeq = Math.max(seenSeq, timeline.messages()[timeline.messages().length - 1]?.seq ?? 0);
    const seq = firstUnreadSeq(timeline.messages(), options.lastReadSeq, myId);
    setMarkerSeq(seq);
    requestAnimationFrame(() => {
      const marker = seq === undefined ? null : scroller.querySelector<HTMLElement>(`[data-seq="${seq}"]`);
      if (marker && marker.offsetTop > scroller.clientHeight / 2) {
        scroller.scrollTop = Math.max(0, marker.offsetTop - scroller.clientHeight / 3);
        setAtBottom(isAtBottom());
      } else scrollToBottom();
      void fillViewport();
    });
  });

  // New items at the end: follow them when at the end, otherwise count them.
  createEffect(
    on(
      () => timeline.items(),
      () => {
        const messages = timeline.messages();
        const pendingCount = timeline.pending().length;
        const newest = messages[messages.length - 1]?.seq ?? 0;
        const added = positioned && newest > seenSeq ? messages.filter((m) => m.seq > seenSeq) : [];
        const sentOne = pendingCount > seenPending;
        seenSeq = Math.max(seenSeq, newest);
        seenPending = pendingCount;
        if (!positioned || (added.length === 0 && !sentOne)) return;
        const fromOthers = added.filter((m) => m.senderId !== myId && !m.deleted);
        if (!untrack(reading) && fromOthers.length > 0 && untrack(markerSeq) === undefined) setMarkerSeq(fromOthers[0]!.seq);
        if (untrack(atBottom) || sentOne) queueMicrotask(scrollToBottom);
        else if (fromOthers.length > 0) setNewBelow((n) => n + fromOthers.length);
      },
    ),
  );

  const onScroll = () => {
    const bottom = isAtBottom();
    if (bottom !== atBottom()) setAtBottom(bottom);
    if (bottom && newBelow() > 0) setNewBelow(0);
    if (scroller.scrollTop < TOP_SLACK) void loadOlder();
  };

  // A message that grows while the end is in view (a link preview arriving as a later change, an
  // edit, files of a send) keeps the end in view: nothing scrolls by itself, so atBottom still says
  // where the reader was before the change.
  let grown = false;
  const observer = typeof MutationObserver === "function"
    ? new MutationObserver(() => {
        if (!positioned || grown || !untrack(atBottom)) return;
        grown = true;
        requestAnimationFrame(() => {
          grown = false;
          if (untrack(atBottom) && scroller.isConnected) scroller.scrollTop = scroller.scrollHeight;
        });
      })
    : undefined;
  onCleanup(() => observer?.disconnect());

  return {
    ref: (element) => {
      scroller = element;
      observer?.observe(element, { childList: true, subtree: true, characterData: true });
    },
    onScroll,
    atBottom,
    newBelow,
    markerSeq,
    reading,
    scrollToBottom,
  };
}
