// "Mentions" (issue 16): recent messages that mention me (@username, @room, @here) across the rooms
// I am in, newest first (GET /mentions); clicking one opens its room.
import { useNavigate } from "@solidjs/router";
import { createResource, For, Show } from "solid-js";
import { api, errorMessage } from "../lib/api";
import { fullTimeOf, timeOf } from "../lib/format";
import { plainText } from "../lib/markdown";
import { usePeople } from "../lib/store/people";
import { useChat } from "../lib/store/context";
import type { ChatMessage } from "../lib/types";
import { Dialog } from "./Dialog";

export function MentionsView(props: { onClose: () => void; onNavigate: () => void }) {
  const people = usePeople();
  const { rooms } = useChat();
  const navigate = useNavigate();
  const [mentions] = createResource(async () => (await api.messages.mentions.query({ limit: 50 })).messages as ChatMessage[]);
  const open = (message: ChatMessage) => {
    props.onClose();
    props.onNavigate();
    navigate(`/rooms/${message.roomId}`);
  };
  return (
    <Dialog title="Mentions" onClose={props.onClose} wide description="Messages that mention you, newest first">
      <Show when={!mentions.error} fallback={<p class="form-error">{errorMessage(mentions.error)}</p>}>
        <Show when={(mentions.latest?.length ?? 1) > 0} fallback={<p class="muted">Nobody has mentioned you yet.</p>}>
          <ul class="member-list mentions-list" data-testid="mentions-list">
            <For each={mentions.latest ?? []}>
              {(message) => (
                <li>
                  <button type="button" class="pinned-item" data-testid="mention-item" onClick={() => open(message)}>
                    <span class="member-name">
                      <bdi>{people.nameOf(message.senderId)}</bdi> in <bdi>{rooms.titleById(message.roomId)}</bdi>{" "}
                      <time class="muted" datetime={message.createdAt} title={fullTimeOf(message.createdAt)}>
                        {timeOf(message.createdAt)}
                      </time>
                    </span>
                    <span class="pinned-body" dir="auto">
                      {plainText(message.body)}
                    </span>
                  </button>
                </li>
              )}
            </For>
          </ul>
        </Show>
      </Show>
    </Dialog>
  );
}
