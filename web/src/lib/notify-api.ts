// The edge's `notifications` router (issue 18) as the app calls it: the one place that knows its
// inputs and outputs (camelCase, levels as "all" | "mentions" | "nothing", times as ISO strings).
import { api } from "./api";
import type { LevelName } from "./badges";

export interface DoNotDisturb {
  enabled: boolean;
  startMinute: number;
  endMinute: number;
  timeZone: string;
}

export interface Preferences {
  defaultLevel: LevelName;
  desktop: boolean;
  push: boolean;
  email: boolean;
  emailDelaySeconds: number;
  hidePreviews: boolean;
  sound: boolean;
  dnd: DoNotDisturb;
  pausedUntil: string | null;
}

export interface RoomPreference {
  roomId: string;
  level: LevelName | "default";
  mutedUntil: string | null;
}

export interface ThreadPreference {
  roomId: string;
  threadRootId: string;
  mutedUntil: string | null;
}

export interface PushDevice {
  id: string;
  endpointOrigin: string;
  deviceLabel: string;
  createdAt: string;
  lastSuccessAt: string | null;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const router = (api as any).notifications;

export const notificationsApi = {
  preferences: (): Promise<{ preferences: Preferences; rooms: RoomPreference[]; threads: ThreadPreference[] }> => router.preferences.query(),
  updatePreferences: (patch: Partial<Preferences>): Promise<Preferences> => router.updatePreferences.mutate(patch),
  setRoom: (input: RoomPreference): Promise<RoomPreference> => router.setRoom.mutate(input),
  setThread: (input: ThreadPreference): Promise<ThreadPreference> => router.setThread.mutate(input),
  pushConfig: (): Promise<{ vapidPublicKey: string }> => router.pushConfig.query(),
  addPushSubscription: (input: { endpoint: string; p256dh: string; auth: string; vapidPublicKey: string; deviceLabel: string }): Promise<PushDevice> =>
    router.addPushSubscription.mutate(input),
  listPushSubscriptions: (): Promise<{ subscriptions: PushDevice[] }> => router.listPushSubscriptions.query(),
  removePushSubscription: (input: { id?: string; endpoint?: string }): Promise<unknown> => router.removePushSubscription.mutate(input),
};
