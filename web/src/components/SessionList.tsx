// Where you are signed in (device, address, created, last used; this device marked), with
// sign-out of any other session and of every other session at once, each confirmed first.
import { createResource, createSignal, For, Show } from "solid-js";
import { api, errorMessage } from "../lib/api";
import { deviceOf } from "../lib/device";
import { fullTimeOf } from "../lib/format";
import { ConfirmDialog } from "./Dialog";

type Session = Awaited<ReturnType<typeof api.auth.sessions.query>>["sessions"][number];
type Pending = { kind: "one"; session: Session } | { kind: "others"; count: number };

export function SessionList() {
  const [sessions, { refetch }] = createResource(async () => (await api.auth.sessions.query()).sessions);
  const [pending, setPending] = createSignal<Pending | null>(null);
  const [error, setError] = createSignal<string | null>(null);
  const [notice, setNotice] = createSignal<string | null>(null);
  const others = () => (sessions.latest ?? []).filter((s) => !s.current);

  const confirm = async () => {
    const what = pending();
    if (!what) return;
    setError(null);
    try {
      if (what.kind === "one") {
        await api.auth.revokeSession.mutate({ id: what.session.id });
        setNotice(`Signed out ${deviceOf(what.session.userAgent)}.`);
      } else {
        const { sessionCount } = await api.auth.logoutOthers.mutate();
        setNotice(sessionCount === 1 ? "Signed out 1 other session." : `Signed out ${sessionCount} other sessions.`);
      }
    } catch (cause) {
      // Already ended elsewhere (404) or a failure: say so; the list below is fetched again either way.
      setError(errorMessage(cause));
    }
    setPending(null);
    await refetch();
  };

  return (
    <Show when={!sessions.error} fallback={<p class="form-error">{errorMessage(sessions.error)}</p>}>
      <ul class="session-list" aria-label="Your sessions" data-testid="sessions">
        <For each={sessions.latest ?? []}>
          {(session) => (
            <li class="session" data-current={session.current} data-session-id={session.id}>
              <div class="session-text">
                <span class="session-device" dir="auto">
                  {deviceOf(session.userAgent)}
                  <Show when={session.current}>
                    <span class="role-tag session-here">this device</span>
                  </Show>
                </span>
                <span class="muted small">{session.clientAddress || "unknown address"}</span>
                <span class="muted small">
                  signed in {fullTimeOf(session.createdAt)} · last used {session.lastUsedAt ? fullTimeOf(session.lastUsedAt) : "never"}
                </span>
              </div>
              <Show when={!session.current}>
                <button
                  type="button"
                  class="button small danger-outline session-revoke"
                  aria-label={`Sign out ${deviceOf(session.userAgent)}, last used ${fullTimeOf(session.lastUsedAt)}`}
                  onClick={() => setPending({ kind: "one", session })}
                >
                  Sign out
                </button>
              </Show>
            </li>
          )}
        </For>
      </ul>
      <Show when={error()}>
        <p class="form-error" role="alert">
          {error()}
        </p>
      </Show>
      <Show when={notice()}>
        <p class="notice" role="status">
          {notice()}
        </p>
      </Show>
      <Show when={others().length > 0}>
        <div class="dialog-actions start">
          <button type="button" class="button danger-outline" onClick={() => setPending({ kind: "others", count: others().length })}>
            Sign out everywhere else
          </button>
        </div>
      </Show>
      <Show when={pending()}>
        {(what) => (
          <ConfirmDialog
            title={what().kind === "one" ? "Sign out this session?" : "Sign out everywhere else?"}
            message={
              what().kind === "one"
                ? `${deviceOf((what() as { session: Session }).session.userAgent)} will be signed out at once and will need the password to sign in again.`
                : `Every other session (${(what() as { count: number }).count}) will be signed out at once. This device stays signed in.`
            }
            confirmLabel={what().kind === "one" ? "Sign out session" : "Sign out other sessions"}
            danger
            onConfirm={confirm}
            onClose={() => setPending(null)}
          />
        )}
      </Show>
    </Show>
  );
}
