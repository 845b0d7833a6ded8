// Who may use @room and @here in a room (issue 16): a switch for the room's admins, to mount in
// the room settings. Saves at once (PUT /rooms/:id membersCanMentionEveryone).
import { createSignal, Show } from "solid-js";
import { api, errorMessage } from "../lib/api";

export function MentionPolicyToggle(props: { roomId: string; value: boolean; disabled?: boolean; onSaved?: (value: boolean) => void }) {
  const [saving, setSaving] = createSignal(false);
  const [error, setError] = createSignal<string>();
  const [value, setValue] = createSignal(props.value);
  const change = async (next: boolean) => {
    setSaving(true);
    setError(undefined);
    try {
      const room = await api.rooms.update.mutate({ id: props.roomId, membersCanMentionEveryone: next });
      setValue(room.membersCanMentionEveryone);
      props.onSaved?.(room.membersCanMentionEveryone);
    } catch (caught) {
      setError(errorMessage(caught));
    } finally {
      setSaving(false);
    }
  };
  return (
    <div class="mention-policy">
      <label class="checkbox-row">
        <input
          type="checkbox"
          data-testid="mention-policy-toggle"
          checked={value()}
          disabled={saving() || props.disabled}
          onChange={(e) => void change(e.currentTarget.checked)}
        />
        <span>Everyone may use @room and @here</span>
      </label>
      <p class="muted small">Otherwise only admins and the owner can call on the whole room.</p>
      <Show when={error()}>
        <p class="form-error" role="alert">
          {error()}
        </p>
      </Show>
    </div>
  );
}
