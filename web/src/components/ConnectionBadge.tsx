import { useConnection } from "../lib/store/connection";
import "./ConnectionBadge.css";

const LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", closed: "Offline", offline: "Offline" } as const;

/** Where the live connection stands: connecting, live, reconnecting. */
export function ConnectionBadge() {
  const connection = useConnection();
  return (
    <span class={`connection connection-${connection.state()}`} role="status" data-testid="connection" data-state={connection.socketState()} data-shown={connection.state()}>
      <span class="connection-dot" aria-hidden="true" />
      <span class="connection-label">{LABELS[connection.state()]}</span>
    </span>
  );
}
