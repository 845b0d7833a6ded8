// My profile (display name, avatar URL, status), the theme, my sessions (SessionList), and
// signing out here or on every device.
import { FIELDS, maxInputLength } from "@parley/proto/rules";
import { useNavigate } from "@solidjs/router";
import { createSignal, Show } from "solid-js";
import { api } from "../lib/api";
import { createSubmit } from "../lib/form";
import { usePeople } from "../lib/store/people";
import { endSession, signOut } from "../lib/session";
import { setTheme, theme, type ThemeChoice } from "../lib/theme";
import { Avatar } from "./Avatar";
import { Dialog } from "./Dialog";
import { FormError } from "./FormError";
import { SessionList } from "./SessionList";
import { NotificationSettings } from "./NotificationSettings";
import { useNotifications } from "../lib/store/notifications";
import { unsubscribeThisDevice } from "../lib/push";
import "./ProfileDialog.css";

export function ProfileDialog(props: { onClose: () => void }) {
  const people = usePeople();
  const notifications = useNotifications();
  const navigate = useNavigate();
  const me = people.me();
  const [displayName, setDisplayName] = createSignal(me.displayName);
  const [avatarUrl, setAvatarUrl] = createSignal(me.avatarUrl);
  const [statusText, setStatusText] = createSignal(me.statusText);
  const [saved, setSaved] = createSignal(false);
  const [confirmAll, setConfirmAll] = createSignal(false);
  const form = createSubmit();

  const save = form.onSubmit(async () => {
    setSaved(false);
    const changes = {
      ...(displayName().trim() !== me.displayName && { displayName: displayName().trim() }),
      ...(avatarUrl().trim() !== me.avatarUrl && { avatarUrl: avatarUrl().trim() }),
      ...(statusText().trim() !== me.statusText && { statusText: statusText().trim() }),
    };
    if (Object.keys(changes).length === 0) return props.onClose();
    people.setMe(await api.users.updateMe.mutate(changes));
    setSaved(true);
    props.onClose();
  });

  const signOutHere = async () => {
    // This device stops receiving this person's pushes (the server forgets it, the browser drops it).
    await unsubscribeThisDevice(notifications.pushApi, people.myId).catch(() => undefined);
    await signOut();
    navigate("/signin", { replace: true });
  };

  const signOutEverywhere = () =>
    form.run(async () => {
      await api.auth.logoutAll.mutate();
      endSession("You signed out on every device.");
      navigate("/signin", { replace: true });
    });

  return (
    <Dialog title="Your profile" onClose={props.onClose} wide>
      <div class="profile-head">
        <Avatar userId={me.id} name={displayName() || me.username} url={avatarUrl()} size={56} />
        <div>
          <strong dir="auto">{displayName() || me.username}</strong>
          <div class="muted">
            @{me.username}
            {me.email ? ` · ${me.email}` : ""}
          </div>
        </div>
      </div>
      <form class="form" onSubmit={save}>
        <label class="field">
          <span>Display name</span>
          <input name="displayName" maxLength={maxInputLength(FIELDS.displayName)} required value={displayName()} onInput={(e) => setDisplayName(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Avatar URL</span>
          <input name="avatarUrl" type="url" inputMode="url" maxLength={maxInputLength(FIELDS.avatarUrl)} placeholder="https://…" value={avatarUrl()} onInput={(e) => setAvatarUrl(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Status</span>
          <input name="statusText" maxLength={maxInputLength(FIELDS.statusText)} placeholder="What are you up to?" value={statusText()} onInput={(e) => setStatusText(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>Theme</span>
          <select value={theme()} onChange={(e) => setTheme(e.currentTarget.value as ThemeChoice)}>
            <option value="system">Same as the system</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
        </label>
        <FormError error={form.error()} />
        <Show when={saved()}>
          <p class="notice" role="status">
            Saved.
          </p>
        </Show>
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => props.onClose()}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={form.busy() !== null}>
            Save profile
          </button>
        </div>
      </form>
      {/* --- notifications (issue 18) --- */}
      <NotificationSettings />
      <div class="danger-zone">
        <h3>Sessions</h3>
        <SessionList />
        <div class="dialog-actions start">
          <button type="button" class="button" onClick={() => void signOutHere()}>
            Sign out
          </button>
          <Show
            when={confirmAll()}
            fallback={
              <button type="button" class="button danger-outline" onClick={() => setConfirmAll(true)}>
                Sign out everywhere…
              </button>
            }
          >
            <button type="button" class="button danger" disabled={form.busy() !== null} onClick={() => void signOutEverywhere()} autofocus>
              Yes, sign out on every device
            </button>
          </Show>
        </div>
      </div>
    </Dialog>
  );
}
