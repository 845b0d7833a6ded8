// A room's pinned messages (issue 16), newest pin first, in a side panel like the member list.
// Refetched whenever a message of the timeline is pinned or unpinned (the pin arrives live on the
// message lane as the message's new state), so the list follows every member's pins.
// On a phone it is a full-screen overlay (MemberList.css): focus moves to its close button when
// it opens and back to the toggle that opened it when it closes; Escape closes it, and opening a
// pinned message closes it first so that the message is not under it.
import { createEffect, createResource, For, on, onCleanup, onMount, Show, type Accessor } from "solid-js";
import { api, errorMessage } from "../lib/api";
import { usePeople } from "../lib/store/people";
import type { ChatMessage } from "../lib/types";
import { Icon } from "./Icon";
import "./MemberList.css";

/** Where the panel is a full-screen overlay (as in MemberList.css). */
const PHONE = "(max-width: 720px)";

export function PinnedList(props: { roomId: string; pinKey: Accessor<string>; onOpen(message: ChatMessage): void; onClose(): void }) {
  const people = usePeople();
  const [pins, { refetch }] = createResource(
    () => props.roomId,
    async (id) => (await api.messages.pins.query({ id, limit: 100 })).messages as ChatMessage[],
  );
  createEffect(on(props.pinKey, () => void refetch(), { defer: true }));
  const opener = document.activeElement as HTMLElement | null;
  const overlay = () => globalThis.matchMedia?.(PHONE).matches ?? false;
  let close!: HTMLButtonElement;
  onMount(() => {
    if (overlay()) close.focus();
  });
  onCleanup(() => {
    // Back to the toggle (or whatever opened the panel) unless focus has gone somewhere on purpose.
    const lost = !document.activeElement || document.activeElement === document.body || !document.activeElement.isConnected;
    if (opener?.isConnected && (lost || overlay())) opener.focus();
  });
  const open = (message: ChatMessage) => {
    if (overlay()) props.onClose();
    props.onOpen(message);
  };
  return (
    <aside
      class="members pinned"
      aria-labelledby={`pinned-${props.roomId}`}
      data-testid="pinned-panel"
      onKeyDown={(event) => {
        if (event.key === "Escape") {
          event.stopPropagation();
          props.onClose();
        }
      }}
    >
      <header class="members-head">
        <h2 id={`pinned-${props.roomId}`}>
          Pinned <span class="muted">· {pins.latest?.length ?? "…"}</span>
        </h2>
        <button ref={close} type="button" class="icon-button" aria-label="Hide pinned messages" onClick={() => props.onClose()}>
          <Icon name="close" size={16} />
        </button>
      </header>
      <Show when={!pins.error} fallback={<p class="form-error">{errorMessage(pins.error)}</p>}>
        <Show when={(pins.latest?.length ?? 1) > 0} fallback={<p class="muted small members-online">No pinned messages yet.</p>}>
          <ul class="member-list">
            <For each={pins.latest ?? []}>
              {(message) => (
                <li>
                  <button type="button" class="pinned-item" data-testid="pinned-item" onClick={() => open(message)}>
                    <span class="member-name">
                      <bdi>{people.nameOf(message.senderId)}</bdi>
                    </span>
                    <span class="pinned-body" dir="auto">
                      {message.body}
                    </span>
                  </button>
                </li>
              )}
            </For>
          </ul>
        </Show>
      </Show>
    </aside>
  );
}
