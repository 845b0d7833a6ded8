// Notifications (issue 18), what the person sees of them: the banner that asks for the browser's
// permission after sign-in (from a click, never on load), the Notifications section of the profile
// dialog (default level, desktop / push / email, email delay, previews, sound, do-not-disturb hours
// in a time zone, pause), this device's Web Push and the list of devices, the room's notifications
// dialog (level and mute), and the thread's mute button. Every control saves when changed.
import { createResource, createSignal, createUniqueId, For, Show } from "solid-js";
import { errorMessage } from "../lib/api";
import { LEVEL_LABELS, type LevelName } from "../lib/badges";
import { notificationsApi } from "../lib/notify-api";
import { browserTimeZone, describeUntil, FOREVER, isForever, minutesToTime, muteUntil, timeToMinutes, timeZones, tomorrowMorning } from "../lib/notify-time";
import { notify } from "../lib/notify";
import { pushSupported, subscribedHere, subscribeThisDevice, unsubscribeThisDevice } from "../lib/push";
import { playChime } from "../lib/sound";
import { useNotifications, useNow } from "../lib/store/notifications";
import { usePeople } from "../lib/store/people";
import type { RoomSummary } from "../lib/types";
import { Dialog } from "./Dialog";
import { Icon } from "./Icon";
import { PermissionToggle } from "./RoomSettings";
import "./RoomSettings.css";
import "./NotificationSettings.css";

const EMAIL_DELAYS: { seconds: number; label: string }[] = [
  { seconds: 60, label: "1 minute" },
  { seconds: 300, label: "5 minutes" },
  { seconds: 900, label: "15 minutes" },
  { seconds: 1800, label: "30 minutes" },
  { seconds: 3600, label: "1 hour" },
  { seconds: 4 * 3600, label: "4 hours" },
  { seconds: 86400, label: "1 day" },
];

/** After sign-in, once: turning desktop notifications on asks the browser, from this click. */
export function NotificationBanner() {
  const notifications = useNotifications();
  return (
    <Show when={notifications.showBanner()}>
      <div class="notify-banner" role="region" aria-label="Desktop notifications" data-testid="notify-banner">
        <Icon name="bell" />
        <p>Turn on desktop notifications to hear about mentions and direct messages while Parley is in the background.</p>
        <div class="notify-banner-actions">
          <button
            type="button"
            class="button primary small"
            onClick={() => void notifications.requestPermission().catch((error: unknown) => notify(errorMessage(error)))}
          >
            Turn on desktop notifications
          </button>
          <button type="button" class="button small" onClick={() => notifications.dismissBanner()}>
            Not now
          </button>
        </div>
      </div>
    </Show>
  );
}

/** The Notifications section of the profile dialog. */
export function NotificationSettings() {
  const notifications = useNotifications();
  const prefs = notifications.prefs;
  const now = useNow();
  const ids = { level: createUniqueId(), delay: createUniqueId(), from: createUniqueId(), to: createUniqueId(), zone: createUniqueId() };
  const save = (patch: Parameters<typeof notifications.update>[0]) =>
    notifications.update(patch).catch((error: unknown) => notify(`Could not save: ${errorMessage(error)}`));
  const zones = () => timeZones([prefs().dnd.timeZone, browserTimeZone()]);
  const setDndTime = (which: "startMinute" | "endMinute", value: string) => {
    const minutes = timeToMinutes(value);
    if (minutes !== undefined && minutes !== prefs().dnd[which]) void save({ dnd: { ...prefs().dnd, [which]: minutes } });
  };
  const paused = () => {
    now();
    return notifications.pausedUntil();
  };

  return (
    <section class="settings-section notify-settings" aria-labelledby="notify-settings-heading" data-testid="notification-settings">
      <h3 id="notify-settings-heading">Notifications</h3>

      <Show
        when={paused()}
        fallback={
          <div class="notify-row">
            <span class="muted small">Pause everything:</span>
            <button type="button" class="button small" onClick={() => void save({ pausedUntil: muteUntil("1h") })}>
              For 1 hour
            </button>
            <button type="button" class="button small" onClick={() => void save({ pausedUntil: tomorrowMorning(Date.now(), prefs().dnd.timeZone || browserTimeZone()) })}>
              Until tomorrow
            </button>
          </div>
        }
      >
        {(until) => (
          <div class="notify-row notify-paused" role="status" data-testid="notify-paused">
            <Icon name="bellOff" size={16} />
            <span>Notifications paused {describeUntil(until(), now())}.</span>
            <button type="button" class="button small" onClick={() => void save({ pausedUntil: null })}>
              Resume
            </button>
          </div>
        )}
      </Show>

      <label class="field" for={ids.level}>
        <span>Notify me about</span>
        <select id={ids.level} data-testid="default-level" value={prefs().defaultLevel} onChange={(e) => void save({ defaultLevel: e.currentTarget.value as LevelName })}>
          <For each={Object.entries(LEVEL_LABELS)}>{([value, label]) => <option value={value}>{label}</option>}</For>
        </select>
        <small>In every room without its own setting (the bell in a room's header). Direct messages always count unless you mute them.</small>
      </label>

      <div class="permission-list">
        <PermissionToggle
          label="Desktop notifications"
          hint="While Parley is open in a tab you are not looking at."
          checked={prefs().desktop}
          onChange={(desktop) => save({ desktop })}
        />
        <BrowserPermission />
        <PermissionToggle label="Play a sound" hint="A short chime with each desktop notification." checked={prefs().sound} onChange={(sound) => save({ sound })} />
        <div class="notify-indent">
          <button type="button" class="link-button small" onClick={() => void playChime()}>
            Play the sound
          </button>
        </div>
        <PermissionToggle
          label="Push notifications"
          hint="To the devices below when Parley is not open anywhere."
          checked={prefs().push}
          onChange={(push) => save({ push })}
        />
        <PermissionToggle
          label="Hide message text in push notifications"
          hint="They show the room and the sender only."
          checked={prefs().hidePreviews}
          onChange={(hidePreviews) => save({ hidePreviews })}
        />
        <PermissionToggle
          label="Email me about missed mentions and direct messages"
          hint="One email for what is still unread after the delay below, while you are away."
          checked={prefs().email}
          onChange={(email) => save({ email })}
        />
      </div>

      <label class="field" for={ids.delay}>
        <span>Email after</span>
        <select
          id={ids.delay}
          data-testid="email-delay"
          value={String(prefs().emailDelaySeconds)}
          disabled={!prefs().email}
          onChange={(e) => void save({ emailDelaySeconds: Number(e.currentTarget.value) })}
        >
          <Show when={!EMAIL_DELAYS.some((d) => d.seconds === prefs().emailDelaySeconds)}>
            <option value={String(prefs().emailDelaySeconds)}>{Math.round(prefs().emailDelaySeconds / 60)} minutes</option>
          </Show>
          <For each={EMAIL_DELAYS}>{(d) => <option value={String(d.seconds)}>{d.label} unread</option>}</For>
        </select>
      </label>

      <fieldset class="field notify-dnd">
        <legend>Do not disturb</legend>
        <PermissionToggle
          label="Every day between these hours"
          hint="No desktop or push notifications then; emails wait until it ends."
          checked={prefs().dnd.enabled}
          onChange={(enabled) => {
            const dnd = prefs().dnd;
            // The browser's time zone, the first time (the server's default is UTC).
            const timeZone = enabled && (!dnd.timeZone || dnd.timeZone === "UTC") ? browserTimeZone() : dnd.timeZone;
            return save({ dnd: { ...dnd, enabled, timeZone } });
          }}
        />
        <div class="notify-dnd-times">
          <label class="field" for={ids.from}>
            <span>From</span>
            <input id={ids.from} type="time" data-testid="dnd-start" value={minutesToTime(prefs().dnd.startMinute)} onChange={(e) => setDndTime("startMinute", e.currentTarget.value)} />
          </label>
          <label class="field" for={ids.to}>
            <span>To</span>
            <input id={ids.to} type="time" data-testid="dnd-end" value={minutesToTime(prefs().dnd.endMinute)} onChange={(e) => setDndTime("endMinute", e.currentTarget.value)} />
          </label>
          <label class="field notify-zone" for={ids.zone}>
            <span>Time zone</span>
            <select id={ids.zone} data-testid="dnd-zone" value={prefs().dnd.timeZone || browserTimeZone()} onChange={(e) => void save({ dnd: { ...prefs().dnd, timeZone: e.currentTarget.value } })}>
              <For each={zones()}>{(zone) => <option value={zone}>{zone.replace(/_/g, " ")}</option>}</For>
            </select>
          </label>
        </div>
      </fieldset>

      <PushDevices />
    </section>
  );
}

/** What the browser says about showing notifications, and the button that asks it. */
function BrowserPermission() {
  const notifications = useNotifications();
  return (
    <div class="notify-indent notify-permission" data-testid="browser-permission" data-permission={notifications.permission()}>
      <Show when={notifications.permission() === "granted"}>
        <span class="muted small">
          <Icon name="check" size={14} /> Allowed in this browser.
        </span>
      </Show>
      <Show when={notifications.permission() === "default"}>
        <button type="button" class="button small" onClick={() => void notifications.requestPermission()}>
          Allow notifications in this browser
        </button>
      </Show>
      <Show when={notifications.permission() === "denied"}>
        <span class="small error-text">Blocked in this browser: allow notifications for this site in the browser's settings.</span>
      </Show>
      <Show when={notifications.permission() === "unsupported"}>
        <span class="muted small">This browser cannot show notifications.</span>
      </Show>
    </div>
  );
}

/** The push service's host, for people ("fcm.googleapis.com"). */
function hostOf(origin: string): string {
  try {
    return new URL(origin).host;
  } catch {
    return origin || "a push service";
  }
}

/** "Push on this device", and the devices that receive push. */
function PushDevices() {
  const people = usePeople();
  const notifications = useNotifications();
  const [devices, { refetch }] = createResource(() => notificationsApi.listPushSubscriptions().then((r) => r.subscriptions));
  const [here, { refetch: refetchHere }] = createResource(() => subscribedHere(people.myId).catch(() => false));
  const [busy, setBusy] = createSignal(false);
  const [problem, setProblem] = createSignal<string | null>(null);
  const errorId = createUniqueId();
  const run = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setProblem(null);
    try {
      await action();
    } catch (error) {
      setProblem(errorMessage(error));
    } finally {
      setBusy(false);
      void refetch();
      void refetchHere();
    }
  };
  return (
    <div class="notify-push" data-testid="push-devices">
      <h4>Push devices</h4>
      <Show when={pushSupported()} fallback={<p class="muted small">This browser cannot receive push notifications.</p>}>
        <div class="notify-row">
          <Show
            when={here()}
            fallback={
              <button
                type="button"
                class="button small"
                disabled={busy()}
                aria-describedby={problem() ? errorId : undefined}
                data-testid="push-subscribe"
                onClick={() => void run(() => subscribeThisDevice(notifications.pushApi, people.myId))}
              >
                Push on this device
              </button>
            }
          >
            <span class="small">
              <Icon name="check" size={14} /> This device receives push.
            </span>
            <button type="button" class="button small" disabled={busy()} onClick={() => void run(() => unsubscribeThisDevice(notifications.pushApi, people.myId))}>
              Stop push on this device
            </button>
          </Show>
        </div>
        <Show when={problem()}>
          <p class="small error-text" id={errorId} role="alert">
            {problem()}
          </p>
        </Show>
      </Show>
      <Show when={devices.error}>
        <p class="small error-text">Could not list the devices: {errorMessage(devices.error)}</p>
      </Show>
      <Show when={devices()} fallback={<Show when={devices.loading}><p class="muted small">Loading…</p></Show>}>
        {(list) => (
          <Show when={list().length > 0} fallback={<p class="muted small">No device receives push yet.</p>}>
            <ul class="session-list">
              <For each={list()}>
                {(device) => (
                  <li class="session" data-testid="push-device">
                    <span class="session-text">
                      <span class="session-device">{device.deviceLabel || "A browser"}</span>
                      <span class="muted small">
                        {hostOf(device.endpointOrigin)} · since {new Date(device.createdAt).toLocaleDateString()}
                      </span>
                    </span>
                    <button
                      type="button"
                      class="button small session-revoke"
                      disabled={busy()}
                      aria-label={`Remove ${device.deviceLabel || "this device"}`}
                      onClick={() => void run(() => notificationsApi.removePushSubscription({ id: device.id }))}
                    >
                      Remove
                    </button>
                  </li>
                )}
              </For>
            </ul>
          </Show>
        )}
      </Show>
    </div>
  );
}

/** The room's notifications: its level, and muting it for a while or until unmuted. */
export function RoomNotificationsDialog(props: { room: RoomSummary; title: string; onClose: () => void }) {
  const notifications = useNotifications();
  const now = useNow();
  const name = createUniqueId();
  const level = () => notifications.roomLevel(props.room.id);
  const mutedUntil = () => {
    now();
    return notifications.roomMutedUntil(props.room.id);
  };
  const save = (change: { level?: LevelName | "default"; mutedUntil?: string | null }) =>
    notifications
      .setRoom(props.room.id, { level: change.level ?? level(), mutedUntil: change.mutedUntil !== undefined ? change.mutedUntil : mutedUntil() })
      .catch((error: unknown) => notify(`Could not save: ${errorMessage(error)}`));
  const choices = (): { value: LevelName | "default"; label: string }[] => [
    { value: "default", label: `Default: ${LEVEL_LABELS[notifications.prefs().defaultLevel].toLowerCase()}` },
    { value: "all", label: LEVEL_LABELS.all },
    { value: "mentions", label: LEVEL_LABELS.mentions },
    { value: "nothing", label: LEVEL_LABELS.nothing },
  ];
  return (
    <Dialog title={`Notifications for ${props.title}`} onClose={props.onClose}>
      <div class="room-notify" data-testid="room-notifications">
        <fieldset class="field choice">
          <legend>Notify me about</legend>
          <For each={choices()}>
            {(choice) => (
              <label class="radio">
                <input type="radio" name={name} value={choice.value} checked={level() === choice.value} onChange={() => void save({ level: choice.value })} />
                <span>{choice.label}</span>
              </label>
            )}
          </For>
        </fieldset>
        <fieldset class="field">
          <legend>Mute</legend>
          <Show
            when={mutedUntil()}
            fallback={
              <div class="notify-row">
                <button type="button" class="button small" onClick={() => void save({ mutedUntil: muteUntil("1h") })}>
                  For 1 hour
                </button>
                <button type="button" class="button small" onClick={() => void save({ mutedUntil: muteUntil("8h") })}>
                  For 8 hours
                </button>
                <button type="button" class="button small" onClick={() => void save({ mutedUntil: FOREVER })}>
                  Until I unmute
                </button>
              </div>
            }
          >
            {(until) => (
              <div class="notify-row" role="status" data-testid="room-muted">
                <Icon name="bellOff" size={16} />
                <span>{isForever(until()) ? "Muted until you unmute it." : `Muted ${describeUntil(until(), now())}.`}</span>
                <button type="button" class="button small" onClick={() => void save({ mutedUntil: null })}>
                  Unmute
                </button>
              </div>
            )}
          </Show>
          <small>A muted room notifies nothing and its badge stays quiet.</small>
        </fieldset>
        <div class="dialog-actions">
          <button type="button" class="button primary" onClick={() => props.onClose()}>
            Done
          </button>
        </div>
      </div>
    </Dialog>
  );
}

/** The thread panel's mute: replies in it notify nothing until unmuted. */
export function ThreadMuteButton(props: { roomId: string; rootId: string }) {
  const notifications = useNotifications();
  const muted = () => notifications.threadMutedUntil(props.rootId) !== null;
  const toggle = () =>
    notifications.setThread(props.roomId, props.rootId, muted() ? null : FOREVER).catch((error: unknown) => notify(`Could not save: ${errorMessage(error)}`));
  return (
    <button
      type="button"
      class="icon-button"
      aria-pressed={muted()}
      aria-label="Mute thread"
      title={muted() ? "Thread muted: its replies do not notify you (click to unmute)" : "Mute thread"}
      data-testid="thread-mute"
      onClick={() => void toggle()}
    >
      <Icon name={muted() ? "bellOff" : "bell"} size={16} />
    </button>
  );
}
