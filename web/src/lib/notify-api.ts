// The edge's `notifications` router (issue 18) as the app calls it: the one place that knows its
// inputs and outputs (camelCase, levels as "all" | "mentions" | "nothing", times as ISO strings).
import { api } from "./api";
import type { RouterInputs, RouterOutputs } from "./types";

type Out = RouterOutputs["notifications"];
type In = RouterInputs["notifications"];

export type Preferences = Out["updatePreferences"];
export type DoNotDisturb = Preferences["dnd"];
export type RoomPreference = Out["setRoom"];
export type ThreadPreference = Out["setThread"];
export type PushDevice = Out["addPushSubscription"];
/** A change of preferences: the fields given change (in dnd too). */
export type PreferencesPatch = Exclude<In["updatePreferences"], void | undefined>;

export const notificationsApi = {
  preferences: () => api.notifications.preferences.query(),
  updatePreferences: (patch: PreferencesPatch) => api.notifications.updatePreferences.mutate(patch),
  setRoom: (input: { roomId: string; level: RoomPreference["level"]; mutedUntil: string | null }) => api.notifications.setRoom.mutate(input),
  setThread: (input: { rootId: string; mutedUntil: string | null }) => api.notifications.setThread.mutate(input),
  pushConfig: () => api.notifications.pushConfig.query(),
  addPushSubscription: (input: { endpoint: string; p256dh: string; auth: string; vapidPublicKey: string; deviceLabel: string }) =>
    api.notifications.addPushSubscription.mutate({
      endpoint: input.endpoint,
      keys: { p256dh: input.p256dh, auth: input.auth },
      vapidPublicKey: input.vapidPublicKey || undefined,
      deviceLabel: input.deviceLabel,
    }),
  listPushSubscriptions: () => api.notifications.listPushSubscriptions.query(),
  removePushSubscription: (input: { id?: string; endpoint?: string }) => api.notifications.removePushSubscription.mutate(input),
};
