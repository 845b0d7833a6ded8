// Under a thread's root in the room (issue 16): how many replies, who replied, and when the last came.
import { For, Show } from "solid-js";
import { fullTimeOf, relativeTime } from "../lib/format";
import { usePeople } from "../lib/store/people";
import type { ChatMessage } from "../lib/types";
import { Avatar } from "./Avatar";
import "./Thread.css";

export function ThreadSummaryRow(props: { message: ChatMessage; onOpen(): void }) {
  const people = usePeople();
  const summary = () => props.message.thread;
  return (
    <Show when={summary() && summary()!.replyCount > 0}>
      <button type="button" class="thread-summary" data-testid="thread-summary" onClick={() => props.onOpen()}>
        <span class="thread-avatars" aria-hidden="true">
          <For each={summary()!.participantIds}>
            {(id) => <Avatar userId={id} name={people.nameOf(id)} url={people.users[id]?.avatarUrl} size={20} />}
          </For>
        </span>
        <span class="thread-count" data-testid="thread-count">
          {summary()!.replyCount} {summary()!.replyCount === 1 ? "reply" : "replies"}
        </span>
        <Show when={summary()!.lastReplyAt}>
          <time class="muted small" datetime={summary()!.lastReplyAt!} title={fullTimeOf(summary()!.lastReplyAt!)}>
            Last reply {relativeTime(summary()!.lastReplyAt!)}
          </time>
        </Show>
      </button>
    </Show>
  );
}
