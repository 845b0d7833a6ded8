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
export type ChatMessage = RouterOutputs["messages"]["list"]["messages"][number];
export type Role = RoomSummary["role"];
export type Visibility = RoomSummary["visibility"];
