import { useChat } from "../lib/chat";

const LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", closed: "Offline" } as const;

/** Where the live connection stands: connecting, live, reconnecting. */
export function ConnectionBadge() {
  const chat = useChat();
  return (
    <span class={`connection connection-${chat.connection()}`} role="status" data-testid="connection" data-state={chat.connection()}>
      <span class="connection-dot" aria-hidden="true" />
      <span class="connection-label">{LABELS[chat.connection()]}</span>
    </span>
  );
}
