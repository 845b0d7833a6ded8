// Running a room (issue 16): its settings dialog (name, topic, description, permissions,
// archive/unarchive, ownership, leaving), the leave dialog that knows an owner must hand the room
// over first, and the banner of an archived room. Controls appear only for those the room service
// lets through (lib/room-rules.ts); it refuses everyone else anyway.
import { Role } from "@parley/client";
import { FIELDS, maxInputLength, problemOf, type TextRule } from "@parley/proto/rules";
import { createResource, createSignal, createUniqueId, For, Show, type Accessor, type JSX } from "solid-js";
import { api } from "../lib/api";
import { createSubmit } from "../lib/form";
import { canChangeRoles, canManageRoom, mustTransferToLeave } from "../lib/room-rules";
import { useMembers } from "../lib/store/members";
import { usePeople } from "../lib/store/people";
import { useRooms } from "../lib/store/rooms";
import type { Member, RoomSummary } from "../lib/types";
import { ConfirmDialog, Dialog } from "./Dialog";
import { FormError } from "./FormError";
import { Markdown } from "./Markdown";
import "./RoomSettings.css";

export type SettingsSection = "details" | "transfer";

/** Changes the room's settings over the API, and shows the answer at once (the room lane tells everyone else). */
function useRoomUpdate(roomId: string) {
  const rooms = useRooms();
  return async (changes: { name?: string; topic?: string; description?: string; archived?: boolean; membersCanPin?: boolean; membersCanMentionEveryone?: boolean }) => {
    rooms.updated(await api.rooms.update.mutate({ id: roomId, ...changes }));
  };
}

export function RoomSettingsDialog(props: {
  room: Accessor<RoomSummary>;
  section?: SettingsSection;
  onClose: () => void;
  onLeave: () => void;
}) {
  const manage = () => canManageRoom(props.room());
  return (
    <Dialog title={`#${props.room().name} settings`} onClose={props.onClose} wide>
      <div class="room-settings">
        <Show when={manage()} fallback={<RoomAbout room={props.room} />}>
          <RoomDetailsForm room={props.room} />
          <section class="settings-section" aria-labelledby="settings-permissions">
            <h3 id="settings-permissions">Permissions</h3>
            <RoomPermissions room={props.room} />
          </section>
          <ArchiveSection room={props.room} />
        </Show>
        <Show when={canChangeRoles(props.room())}>
          <TransferSection room={props.room} autofocus={props.section === "transfer"} />
        </Show>
        <section class="settings-section" aria-labelledby="settings-leave">
          <h3 id="settings-leave">Leave</h3>
          <p class="muted small">
            {mustTransferToLeave(props.room())
              ? "You are the owner: transfer ownership to another member before you leave."
              : props.room().visibility === "private"
                ? "You will need to be added again to come back."
                : "You can join again at any time."}
          </p>
          <div>
            <button type="button" class="button danger-outline" onClick={() => props.onLeave()}>
              Leave room
            </button>
          </div>
        </section>
      </div>
    </Dialog>
  );
}

/** What members who cannot change the room see: its topic and description. */
function RoomAbout(props: { room: Accessor<RoomSummary> }) {
  return (
    <section class="settings-section" aria-labelledby="settings-about">
      <h3 id="settings-about">About</h3>
      <Show when={props.room().topic}>
        <p dir="auto">
          <strong>Topic:</strong> {props.room().topic}
        </p>
      </Show>
      <Show when={props.room().description} fallback={<p class="muted">No description yet.</p>}>
        <div class="room-description" data-testid="room-description">
          <Markdown text={props.room().description} />
        </div>
      </Show>
      <p class="muted small">Only the room's admins and its owner can change its settings.</p>
    </section>
  );
}

/** Name, topic and description, checked here by the rules the server applies, with errors linked to their fields. */
function RoomDetailsForm(props: { room: Accessor<RoomSummary> }) {
  const update = useRoomUpdate(props.room().id);
  const [name, setName] = createSignal(props.room().name);
  const [topic, setTopic] = createSignal(props.room().topic);
  const [description, setDescription] = createSignal(props.room().description);
  const [problems, setProblems] = createSignal<Record<string, string>>({});
  const [saved, setSaved] = createSignal(false);
  const form = createSubmit();
  const ids = { name: createUniqueId(), topic: createUniqueId(), description: createUniqueId(), hint: createUniqueId() };
  const rules: Record<"name" | "topic" | "description", TextRule> = { name: FIELDS.roomName, topic: FIELDS.roomTopic, description: FIELDS.roomDescription };
  const values = { name, topic, description };
  /** A field's problem: found here, or named by the server. */
  const problem = (field: keyof typeof rules) => problems()[field] ?? (form.error()?.field === field ? form.error()!.text : undefined);
  const describedBy = (field: keyof typeof rules, hint?: string) => [hint, problem(field) ? `${ids[field]}-error` : undefined].filter(Boolean).join(" ") || undefined;
  const changed = () => name() !== props.room().name || topic() !== props.room().topic || description() !== props.room().description;

  const submit = form.onSubmit(async () => {
    setSaved(false);
    const found: Record<string, string> = {};
    for (const field of Object.keys(rules) as (keyof typeof rules)[]) {
      const message = problemOf(rules[field], values[field]());
      if (message) found[field] = message;
    }
    setProblems(found);
    if (Object.keys(found).length > 0) return;
    await update({ name: name().trim(), topic: topic().trim(), description: description().trim() });
    setSaved(true);
  });

  const FieldError = (p: { field: keyof typeof rules }) => (
    <Show when={problem(p.field)}>
      {(text) => (
        <small class="field-error" id={`${ids[p.field]}-error`}>
          {text()}
        </small>
      )}
    </Show>
  );
  // A field error is shown beside its field; any other failure in the form's alert line.
  const formError = () => {
    const error = form.error();
    return error && error.field && error.field in rules ? null : error;
  };

  return (
    <form class="form settings-section" onSubmit={submit} aria-labelledby="settings-details" novalidate>
      <h3 id="settings-details">Details</h3>
      <label class="field">
        <span>Name</span>
        <input
          name="name"
          required
          maxLength={maxInputLength(FIELDS.roomName)}
          aria-invalid={problem("name") ? "true" : undefined}
          aria-describedby={describedBy("name")}
          value={name()}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <FieldError field="name" />
      </label>
      <label class="field">
        <span>
          Topic <small>(optional)</small>
        </span>
        <input
          name="topic"
          maxLength={maxInputLength(FIELDS.roomTopic)}
          aria-invalid={problem("topic") ? "true" : undefined}
          aria-describedby={describedBy("topic")}
          value={topic()}
          onInput={(e) => setTopic(e.currentTarget.value)}
          placeholder="Shown in the room's header"
        />
        <FieldError field="topic" />
      </label>
      <label class="field">
        <span>
          Description <small>(optional)</small>
        </span>
        <textarea
          name="description"
          rows={4}
          aria-invalid={problem("description") ? "true" : undefined}
          aria-describedby={describedBy("description", ids.hint)}
          value={description()}
          onInput={(e) => setDescription(e.currentTarget.value)}
          placeholder="What is this room for? Links, rules, who to ask…"
        />
        <small id={ids.hint}>
          {[...description().trim()].length} / {FIELDS.roomDescription.max} characters · **bold**, _italic_, `code` and links work
        </small>
        <FieldError field="description" />
      </label>
      <FormError error={formError()} />
      <div class="settings-row">
        <span class="muted small" role="status">
          {saved() && !changed() ? "Saved." : ""}
        </span>
        <button type="submit" class="button primary" disabled={form.busy() !== null || !changed()}>
          {form.busy() ? "Saving…" : "Save changes"}
        </button>
      </div>
    </form>
  );
}

/**
 * The room's permission toggles. Each is one <PermissionToggle>: another (who may use @room, say)
 * is one more element here.
 */
export function RoomPermissions(props: { room: Accessor<RoomSummary> }) {
  const update = useRoomUpdate(props.room().id);
  return (
    <div class="permission-list">
      <PermissionToggle
        label="Members may pin messages"
        hint="Otherwise only admins and the owner pin and unpin."
        checked={props.room().membersCanPin}
        onChange={(membersCanPin) => update({ membersCanPin })}
      />
      <PermissionToggle
        label="Members may use @room and @here"
        hint="Otherwise only admins and the owner can call on the whole room."
        checked={props.room().membersCanMentionEveryone}
        onChange={(membersCanMentionEveryone) => update({ membersCanMentionEveryone })}
      />
    </div>
  );
}

/** One permission: a labelled switch that saves when flipped, with its hint and its error linked. */
export function PermissionToggle(props: { label: string; hint: string; checked: boolean; onChange: (checked: boolean) => Promise<void> }) {
  const form = createSubmit();
  const hintId = createUniqueId();
  const errorId = createUniqueId();
  return (
    <div class="permission">
      <label class="permission-label">
        <input
          type="checkbox"
          role="switch"
          checked={props.checked}
          disabled={form.busy() !== null}
          aria-describedby={form.error() ? `${hintId} ${errorId}` : hintId}
          onChange={(e) => {
            const wanted = e.currentTarget.checked;
            // The box shows the room's value: it moves when the server has it.
            e.currentTarget.checked = props.checked;
            void form.run(() => props.onChange(wanted));
          }}
        />
        <span>{props.label}</span>
      </label>
      <small class="muted" id={hintId}>
        {props.hint}
      </small>
      <Show when={form.error()}>
        {(error) => (
          <small class="field-error" id={errorId} role="alert">
            {error().text}
          </small>
        )}
      </Show>
    </div>
  );
}

function ArchiveSection(props: { room: Accessor<RoomSummary> }) {
  const update = useRoomUpdate(props.room().id);
  const [confirming, setConfirming] = createSignal(false);
  const form = createSubmit();
  return (
    <section class="settings-section" aria-labelledby="settings-archive">
      <h3 id="settings-archive">{props.room().archived ? "Archived" : "Archive"}</h3>
      <p class="muted small">
        {props.room().archived
          ? "This room is read-only: nobody can post, react or pin until it is unarchived."
          : "Archiving makes the room read-only for everyone. Its history stays, and you can unarchive it later."}
      </p>
      <FormError error={form.error()} />
      <div>
        <Show
          when={props.room().archived}
          fallback={
            <button type="button" class="button danger-outline" onClick={() => setConfirming(true)}>
              Archive room
            </button>
          }
        >
          <button type="button" class="button" disabled={form.busy() !== null} onClick={() => void form.run(() => update({ archived: false }))}>
            Unarchive room
          </button>
        </Show>
      </div>
      <Show when={confirming()}>
        <ConfirmDialog
          title={`Archive #${props.room().name}`}
          message="Nobody will be able to post in it until it is unarchived. Everyone can still read it."
          confirmLabel="Archive room"
          danger
          onClose={() => setConfirming(false)}
          onConfirm={async () => {
            setConfirming(false);
            await form.run(() => update({ archived: true }));
          }}
        />
      </Show>
    </section>
  );
}

/** The owner picks another member to hand the room to, and confirms. */
function TransferSection(props: { room: Accessor<RoomSummary>; autofocus?: boolean }) {
  const people = usePeople();
  const roomMembers = useMembers();
  const [members] = createResource(() => `${props.room().id}:${roomMembers.version(props.room().id) ?? 0}`, () => roomMembers.load(props.room().id));
  const candidates = () => (members.latest ?? []).filter((m) => m.userId !== people.myId);
  const [pick, setPick] = createSignal("");
  const picked = () => candidates().find((m) => m.userId === pick());
  const [confirming, setConfirming] = createSignal<Member | null>(null);
  const form = createSubmit();
  const selectId = createUniqueId();
  const nameOf = (m: Member) => m.user?.displayName || m.user?.username || people.nameOf(m.userId);
  return (
    <section class="settings-section" aria-labelledby="settings-transfer">
      <h3 id="settings-transfer">Ownership</h3>
      <p class="muted small">You own this room. Hand it to another member: they become the owner, and you stay on as an admin.</p>
      <Show when={candidates().length > 0} fallback={<p class="muted small">Nobody else is in the room yet.</p>}>
        <div class="settings-row">
          <label class="field grow" for={selectId}>
            <span>New owner</span>
            <select id={selectId} autofocus={props.autofocus} value={pick()} onChange={(e) => setPick(e.currentTarget.value)}>
              <option value="">Choose a member…</option>
              <For each={candidates()}>
                {(m) => (
                  <option value={m.userId}>
                    {nameOf(m)} (@{m.user?.username ?? "?"}){m.role === "admin" ? " · admin" : ""}
                  </option>
                )}
              </For>
            </select>
          </label>
          <button type="button" class="button" disabled={!picked() || form.busy() !== null} onClick={() => setConfirming(picked() ?? null)}>
            Transfer ownership
          </button>
        </div>
      </Show>
      <FormError error={form.error()} />
      <Show when={confirming()}>
        {(member) => (
          <TransferConfirm
            roomId={props.room().id}
            roomName={props.room().name}
            name={nameOf(member())}
            userId={member().userId}
            onClose={() => setConfirming(null)}
            run={(action) => form.run(action)}
          />
        )}
      </Show>
    </section>
  );
}

/** "Make X the owner?": used by the settings dialog and the member list's menu. */
export function TransferConfirm(props: {
  roomId: string;
  roomName: string;
  name: string;
  userId: string;
  onClose: () => void;
  /** Runs the transfer, keeping its failure where the caller shows it. */
  run: (action: () => Promise<void>) => Promise<boolean>;
}) {
  const rooms = useRooms();
  return (
    <ConfirmDialog
      title="Transfer ownership"
      message={`Make ${props.name} the owner of #${props.roomName}? You will become an admin, and only they can give ownership back.`}
      confirmLabel="Transfer ownership"
      danger
      onClose={props.onClose}
      onConfirm={async () => {
        // Read before closing: the props come from a <Show> that closing ends.
        const { roomId, userId, run } = props;
        props.onClose();
        await run(async () => {
          await api.rooms.transferOwnership.mutate({ id: roomId, userId });
          rooms.roleChanged(roomId, Role.ADMIN);
        });
      }}
    />
  );
}

/** Leaving: a plain confirmation, or, for an owner with others in the room, why not yet and the way to transfer. */
export function LeaveRoomDialog(props: { room: Accessor<RoomSummary>; onClose: () => void; onTransfer: () => void; onLeave: () => Promise<void> }) {
  return (
    <Show
      when={mustTransferToLeave(props.room())}
      fallback={
        <ConfirmDialog
          title={`Leave #${props.room().name}`}
          message={
            props.room().role === "owner"
              ? "You are its last member: leaving closes the room (it is archived)."
              : props.room().visibility === "private"
                ? "You will need to be added again to come back."
                : "You can join again at any time."
          }
          confirmLabel="Leave room"
          danger
          onClose={props.onClose}
          onConfirm={async () => {
            props.onClose();
            await props.onLeave();
          }}
        />
      }
    >
      <Dialog title={`Leave #${props.room().name}`} onClose={props.onClose}>
        <p>You are the owner of this room. Transfer ownership to another member first: then you can leave.</p>
        <div class="dialog-actions">
          <button type="button" class="button" onClick={() => props.onClose()}>
            Cancel
          </button>
          <button type="button" class="button primary" autofocus onClick={() => props.onTransfer()}>
            Transfer ownership…
          </button>
        </div>
      </Dialog>
    </Show>
  );
}

/** Above an archived room's history: read-only, and for its admins the way back. */
export function ArchivedBanner(props: { room: Accessor<RoomSummary> }): JSX.Element {
  const update = useRoomUpdate(props.room().id);
  const form = createSubmit();
  return (
    <div class="archived-banner" role="status" data-testid="archived-banner">
      <span>
        <strong>This room is archived.</strong> It is read-only: nobody can post in it.
      </span>
      <Show when={canManageRoom(props.room())}>
        <button type="button" class="button small" disabled={form.busy() !== null} onClick={() => void form.run(() => update({ archived: false }))}>
          Unarchive
        </button>
      </Show>
      <FormError error={form.error()} />
    </div>
  );
}
