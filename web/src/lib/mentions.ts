// Mentions in the web app (issue 16): what a message's chips show, and whether it calls on me.
import { MentionBroadcast, type Message } from "@parley/client";
import type { MentionHighlights } from "./markdown";
import type { ChatMessage } from "./types";

type Mentioning = Pick<ChatMessage, "mentionUserIds" | "mentionBroadcast">;

/** Whether the message mentions me by @username, or is @room / @here (and is not mine). */
export function mentionsMe(message: Partial<Mentioning> & { senderId: string; deleted?: boolean }, myId: string): boolean {
  if (message.senderId === myId || message.deleted) return false;
  return message.mentionBroadcast != null || (message.mentionUserIds ?? []).includes(myId);
}

/** The chips of a message: the usernames of the members it mentions (as far as they are loaded). */
export function mentionHighlights(
  message: Partial<Mentioning>,
  people: { users: Record<string, { username: string } | undefined>; ensureUser(id: string): void },
  myUsername: string,
): MentionHighlights | undefined {
  const ids = message.mentionUserIds ?? [];
  if (ids.length === 0 && message.mentionBroadcast == null) return undefined;
  const names = new Set<string>();
  for (const id of ids) {
    const user = people.users[id];
    if (user) names.add(user.username.toLowerCase());
    else people.ensureUser(id);
  }
  return { names, broadcast: message.mentionBroadcast != null, me: myUsername.toLowerCase() };
}

/** A socket message's mention fields in the API's shape. */
export function mentionFieldsOf(message: Message): Mentioning {
  return {
    mentionUserIds: [...message.mentionUserIds],
    mentionBroadcast:
      message.mentionBroadcast === MentionBroadcast.ROOM ? "room" : message.mentionBroadcast === MentionBroadcast.HERE ? "here" : null,
  };
}
