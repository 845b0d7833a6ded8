// A member's actions in the members panel (issue 16): make or unmake admin, remove from the room,
// hand the room over. A menu button per member, shown only when the viewer may do at least one;
// the room service refuses the rest anyway.
import { createEffect, createSignal, For, onCleanup, Show, type Accessor } from "solid-js";
import { api, errorMessage } from "../lib/api";
import { notify } from "../lib/notify";
import { canChangeRoles, canRemove } from "../lib/room-rules";
import { useMembers } from "../lib/store/members";
import { usePeople } from "../lib/store/people";
import type { Member, RoomSummary } from "../lib/types";
import { ConfirmDialog } from "./Dialog";
import { Icon } from "./Icon";
import { TransferConfirm } from "./RoomSettings";

interface Action {
  label: string;
  danger?: boolean;
  run: () => void;
}

export function MemberActions(props: { room: Accessor<RoomSummary>; member: Member; name: string }) {
  const people = usePeople();
  const roomMembers = useMembers();
  const [open, setOpen] = createSignal(false);
  const [confirm, setConfirm] = createSignal<"remove" | "transfer" | null>(null);
  let button: HTMLButtonElement | undefined;
  let menu: HTMLUListElement | undefined;
  const roomId = () => props.room().id;
  const target = () => ({ role: props.member.role, isMe: props.member.userId === people.myId });
  const fail = (what: string) => (failure: unknown) => notify(`Could not ${what}: ${errorMessage(failure)}`);

  const setRole = (role: "admin" | "member") =>
    api.rooms.setRole
      .mutate({ id: roomId(), userId: props.member.userId, role })
      .then(() => roomMembers.changed(roomId()), fail(role === "admin" ? "make them an admin" : "remove their admin role"));

  const actions = (): Action[] => {
    const list: Action[] = [];
    const { role, isMe } = target();
    if (canChangeRoles(props.room()) && !isMe && role !== "owner") {
      list.push(role === "admin" ? { label: "Remove admin", run: () => void setRole("member") } : { label: "Make admin", run: () => void setRole("admin") });
    }
    if (canRemove(props.room(), target())) list.push({ label: "Remove from room", danger: true, run: () => setConfirm("remove") });
    if (canChangeRoles(props.room()) && !isMe) list.push({ label: "Transfer ownership", danger: true, run: () => setConfirm("transfer") });
    return list;
  };

  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) button?.focus();
  };
  // While open, a press anywhere else closes the menu.
  const onOutside = (event: MouseEvent) => {
    if (!menu?.contains(event.target as Node) && !button?.contains(event.target as Node)) close(false);
  };
  createEffect(() => {
    if (!open()) return;
    document.addEventListener("mousedown", onOutside);
    onCleanup(() => document.removeEventListener("mousedown", onOutside));
  });

  const items = () => [...(menu?.querySelectorAll<HTMLButtonElement>("[role=menuitem]") ?? [])];
  const onKey = (event: KeyboardEvent) => {
    const list = items();
    const at = list.indexOf(document.activeElement as HTMLButtonElement);
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close(true);
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const next = (at + (event.key === "ArrowDown" ? 1 : list.length - 1)) % list.length;
      list[next]?.focus();
    } else if (event.key === "Tab") close(false);
  };

  return (
    <Show when={actions().length > 0}>
      <div class="member-menu-wrap">
        <button
          ref={button}
          type="button"
          class="icon-button member-action member-more"
          aria-label={`Actions for ${props.name}`}
          aria-haspopup="menu"
          aria-expanded={open()}
          title="Member actions"
          onClick={() => {
            setOpen((v) => !v);
            if (open()) queueMicrotask(() => items()[0]?.focus());
          }}
        >
          <Icon name="more" size={16} />
        </button>
        <Show when={open()}>
          <ul class="member-menu" role="menu" aria-label={`Actions for ${props.name}`} ref={menu} onKeyDown={onKey}>
            <For each={actions()}>
              {(action) => (
                <li role="none">
                  <button
                    type="button"
                    role="menuitem"
                    classList={{ "danger-item": action.danger }}
                    onClick={() => {
                      close(true);
                      action.run();
                    }}
                  >
                    {action.label}
                  </button>
                </li>
              )}
            </For>
          </ul>
        </Show>
      </div>
      <Show when={confirm() === "remove"}>
        <ConfirmDialog
          title={`Remove ${props.name}`}
          message={`Remove ${props.name} from #${props.room().name}? ${props.room().visibility === "private" ? "They will need to be added again to come back." : "They can join again, as it is public."}`}
          confirmLabel="Remove"
          danger
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            setConfirm(null);
            await api.rooms.kick.mutate({ id: roomId(), userId: props.member.userId }).then(() => roomMembers.changed(roomId()), fail("remove them"));
          }}
        />
      </Show>
      <Show when={confirm() === "transfer"}>
        <TransferConfirm
          roomId={roomId()}
          roomName={props.room().name}
          name={props.name}
          userId={props.member.userId}
          onClose={() => setConfirm(null)}
          run={async (action) => {
            try {
              await action();
              roomMembers.changed(roomId());
              return true;
            } catch (failure) {
              fail("transfer ownership")(failure);
              return false;
            }
          }}
        />
      </Show>
    </Show>
  );
}
