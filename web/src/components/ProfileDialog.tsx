// My profile (display name, avatar URL, status), the theme, and signing out
// here or on every device.
import { useNavigate } from "@solidjs/router";
import { createSignal, Show } from "solid-js";
import { FIELDS, maxInputLength } from "@parley/proto/rules";
import { api, errorMessage } from "../lib/api";
import { useChat } from "../lib/chat";
import { endSession, signOut } from "../lib/session";
import { setTheme, theme, type ThemeChoice } from "../lib/theme";
import { Avatar } from "./Avatar";
import { Dialog } from "./Dialog";

export function ProfileDialog(props: { onClose: () => void }) {
  const chat = useChat();
  const navigate = useNavigate();
  const me = chat.me();
  const [displayName, setDisplayName] = createSignal(me.displayName);
  const [avatarUrl, setAvatarUrl] = createSignal(me.avatarUrl);
  const [statusText, setStatusText] = createSignal(me.statusText);
  const [error, setError] = createSignal<string | null>(null);
  const [saved, setSaved] = createSignal(false);
  const [busy, setBusy] = createSignal(false);
  const [confirmAll, setConfirmAll] = createSignal(false);

  const save = async (event: SubmitEvent) => {
    event.preventDefault();
    setError(null);
    setSaved(false);
    const changes = {
      ...(displayName().trim() !== me.displayName && { displayName: displayName().trim() }),
      ...(avatarUrl().trim() !== me.avatarUrl && { avatarUrl: avatarUrl().trim() }),
      ...(statusText().trim() !== me.statusText && { statusText: statusText().trim() }),
    };
    if (Object.keys(changes).length === 0) {
      props.onClose();
      return;
    }
    setBusy(true);
    try {
      chat.setMe(await api.users.updateMe.mutate(changes));
      setSaved(true);
      props.onClose();
    } catch (failure) {
      setError(errorMessage(failure));
    } finally {
      setBusy(false);
    }
  };

  const signOutHere = async () => {
    await signOut();
    navigate("/signin", { replace: true });
  };

  const signOutEverywhere = async () => {
    setBusy(true);
    try {
      await api.auth.logoutAll.mutate();
      endSession("You signed out on every device.");
      navigate("/signin", { replace: true });
    } catch (failure) {
      setError(errorMessage(failure));
      setBusy(false);
    }
  };

  return (
    <Dialog title="Your profile" onClose={props.onClose}>
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
        <Show when={error()}>
          <p class="form-error" role="alert">
            {error()}
          </p>
        </Show>
        <Show when={saved()}>
          <p class="notice" role="status">
            Saved.
          </p>
        </Show>
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => props.onClose()}>
            Cancel
          </button>
          <button type="submit" class="button primary" disabled={busy()}>
            Save profile
          </button>
        </div>
      </form>
      <div class="danger-zone">
        <h3>Sessions</h3>
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
            <button type="button" class="button danger" disabled={busy()} onClick={() => void signOutEverywhere()} autofocus>
              Yes, sign out on every device
            </button>
          </Show>
        </div>
      </div>
    </Dialog>
  );
}
