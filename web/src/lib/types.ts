// Every API type the app uses, inferred from the edge's router: no hand-written copies.
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@parley/edge/router";

export type { AppRouter };
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export type AuthResult = RouterOutputs["auth"]["login"];
export type User = RouterOutputs["users"]["me"];
export type RoomSummary = RouterOutputs["rooms"]["list"]["rooms"][number];
export type Room = RouterOutputs["rooms"]["get"];
export type PublicRoom = RouterOutputs["rooms"]["browse"]["rooms"][number];
export type Member = RouterOutputs["rooms"]["members"]["members"][number];
/**
 * A message as the app holds it. `change` is its position in the room's stream (Message.change: its
 * latest change), when the source tells it (the socket always does): of two versions of one
 * message, the higher change is the newer.
 */
export type ChatMessage = Omit<
  RouterOutputs["messages"]["list"]["messages"][number],
  "change" | "reactions" | "pinnedAt" | "pinnedBy" | "threadRootId" | "alsoSentToRoom" | "thread" | "mentionUserIds" | "mentionBroadcast" | "attachments" | "linkPreviews"
> & {
  change?: number;
  /** Reactions (Message.reactions), in order of first use; absent from an edge that does not tell them. */
  reactions?: Reaction[];
  /** Set while pinned (issue 16). */
  pinnedAt?: string | null;
  pinnedBy?: string | null;
  /** Threads (issue 16): on a reply, its root; on a root with replies, its summary. */
  threadRootId?: string | null;
  alsoSentToRoom?: boolean;
  thread?: ThreadSummary | null;
  /** Whom it mentions (issue 16); absent from an edge that does not tell it. */
  mentionUserIds?: string[];
  mentionBroadcast?: "room" | "here" | null;
  /** Files attached at send (issue 19), in the order given; empty once deleted. */
  attachments?: FileInfo[];
  /** Previews of the first links of the body (issue 19): they arrive as a later change of the message. */
  linkPreviews?: LinkPreview[];
};

/** A stored file (parley.file.v1.File) as the edge shapes it (issue 19). */
export type FileInfo = RouterOutputs["files"]["get"];
/** What a link's page says of itself (parley.message.v1.LinkPreview); the image re-hosted by the server. */
export type LinkPreview = RouterOutputs["messages"]["list"]["messages"][number]["linkPreviews"][number];

export type ThreadSummary = NonNullable<RouterOutputs["messages"]["list"]["messages"][number]["thread"]>;
export type ThreadInfo = RouterOutputs["threads"]["list"]["threads"][number];
export type Reaction = RouterOutputs["messages"]["list"]["messages"][number]["reactions"][number];

/**
 * A room lane or message lane position the API gives (ListMessages.last_change as a page's
 * `lastChange`, Room.last_change as a room's), or undefined from an edge that does not tell it.
 */
export function lastChangeOf(value: object | undefined): number | undefined {
  const last = (value as { lastChange?: unknown } | undefined)?.lastChange;
  return typeof last === "number" && Number.isSafeInteger(last) && last >= 0 ? last : undefined;
}
export type Role = RoomSummary["role"];
export type Visibility = RoomSummary["visibility"];
