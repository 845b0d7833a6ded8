import { Show } from "solid-js";
import { hueOf, initials } from "../lib/format";
import type { Presence } from "../lib/live";
import "./Avatar.css";

/** A picture when the person set an http(s) one, their initials on a stable colour otherwise. */
export function Avatar(props: { userId: string; name: string; url?: string; size?: number; presence?: Presence }) {
  const size = () => props.size ?? 36;
  const src = () => (props.url && /^https?:\/\//i.test(props.url) ? props.url : undefined);
  return (
    <span
      class="avatar"
      style={{ "--hue": String(hueOf(props.userId)), width: `${size()}px`, height: `${size()}px`, "font-size": `${Math.round(size() * 0.4)}px` }}
      aria-hidden="true"
    >
      <Show when={src()} fallback={<span class="avatar-initials">{initials(props.name)}</span>}>
        <img src={src()} alt="" width={size()} height={size()} loading="lazy" referrerPolicy="no-referrer" />
      </Show>
      <Show when={props.presence}>
        <span class={`presence presence-${props.presence}`} />
      </Show>
    </span>
  );
}

export function PresenceDot(props: { presence: Presence }) {
  const label = () => (props.presence === "online" ? "online" : props.presence === "away" ? "away" : "offline");
  return <span class={`presence-dot presence-${props.presence}`} role="img" aria-label={label()} title={label()} />;
}
