// A room's members with presence dots (online first) and their roles.
import { useNavigate } from "@solidjs/router";
import { createEffect, createMemo, createResource, createSignal, For, on, Show } from "solid-js";
import { api, errorMessage } from "../lib/api";
import { usePeople } from "../lib/store/people";
import { useRooms } from "../lib/store/rooms";
import { useMembers } from "../lib/store/members";
import { useConnection } from "../lib/store/connection";
import { notify } from "../lib/notify";
import type { Member } from "../lib/types";
import { canInvite } from "../lib/room-rules";
import { Avatar } from "./Avatar";
import { Icon } from "./Icon";
import { MemberActions } from "./MemberActions";
import { AddPeopleDialog } from "./RoomDialogs";
import "./MemberList.css";

const ORDER = { online: 0, away: 1, offline: 2 } as const;

export function MemberList(props: { roomId: string; onClose: () => void }) {
  const people = usePeople();
  const rooms = useRooms();
  const roomMembers = useMembers();
  const connection = useConnection();
  const navigate = useNavigate();
  const [members, { refetch }] = createResource(() => props.roomId, (id) => roomMembers.load(id));
  createEffect(on(() => roomMembers.version(props.roomId), () => void refetch(), { defer: true }));

  const nameOf = (m: Member) => m.user?.displayName || m.user?.username || people.nameOf(m.userId);
  const presenceOf = (m: Member) => (m.userId === people.myId && connection.state() === "live" ? "online" : (people.presence[m.userId] ?? "offline"));
  const sorted = createMemo(() =>
    (members.latest ?? []).slice().sort((a, b) => ORDER[presenceOf(a)] - ORDER[presenceOf(b)] || nameOf(a).localeCompare(nameOf(b))),
  );
  const room = () => rooms.roomById(props.roomId);
  const [adding, setAdding] = createSignal(false);
  const onlineCount = () => sorted().filter((m) => presenceOf(m) !== "offline").length;

  const message = async (member: Member) => {
    try {
      const room = await api.rooms.openDirect.mutate({ userId: member.userId });
      await rooms.refresh();
      navigate(`/rooms/${room.id}`);
    } catch (failure) {
      notify(errorMessage(failure));
    }
  };

  return (
    <aside class="members" aria-labelledby={`members-${props.roomId}`}>
      <header class="members-head">
        <h2 id={`members-${props.roomId}`}>
          Members <span class="muted">· {members.latest?.length ?? "…"}</span>
        </h2>
        <button type="button" class="icon-button" aria-label="Hide members" onClick={() => props.onClose()}>
          <Icon name="close" size={16} />
        </button>
      </header>
      <Show when={!members.error} fallback={<p class="form-error">{errorMessage(members.error)}</p>}>
        <p class="muted small members-online">{onlineCount()} online</p>
        <Show when={room() && canInvite(room()!)}>
          <button type="button" class="button small members-add" onClick={() => setAdding(true)}>
            <Icon name="addUser" size={16} /> Add people
          </button>
        </Show>
        <ul class="member-list">
          <For each={sorted()}>
            {(member) => (
              <li class="member" data-presence={presenceOf(member)}>
                <Avatar userId={member.userId} name={nameOf(member)} url={member.user?.avatarUrl} size={30} presence={presenceOf(member)} />
                <span class="member-text">
                  <span class="member-name">
                    <bdi>{nameOf(member)}</bdi>
                    <span class="sr-only">, {presenceOf(member)}</span>
                    <Show when={member.role !== "member"}>
                      <span class="role-tag">{member.role}</span>
                    </Show>
                  </span>
                  <Show when={member.user?.statusText}>
                    <span class="member-status" dir="auto">{member.user!.statusText}</span>
                  </Show>
                </span>
                <Show when={member.userId !== people.myId && rooms.roomById(props.roomId)?.visibility !== "direct"}>
                  <button type="button" class="icon-button member-action" aria-label={`Message ${nameOf(member)}`} title="Send a direct message" onClick={() => void message(member)}>
                    <Icon name="message" size={16} />
                  </button>
                </Show>
                <Show when={room()}>{(r) => <MemberActions room={r} member={member} name={nameOf(member)} />}</Show>
              </li>
            )}
          </For>
        </ul>
      </Show>
      <Show when={adding() && room()}>
        {(r) => <AddPeopleDialog roomId={props.roomId} roomName={r().name} onClose={() => setAdding(false)} />}
      </Show>
    </aside>
  );
}
