// A room: its history (older pages load as you scroll up, without moving what
// you are reading), live messages, the "new messages" line, typing, members,
// and the composer. Reaching the newest message marks the room read.
import { A, useNavigate, useParams, useSearchParams } from "@solidjs/router";
import { createEffect, createMemo, createResource, createSignal, For, Match, on, onCleanup, Show, Switch, untrack, type Accessor } from "solid-js";
import { api, errorMessage, isNotFound } from "../lib/api";
import { usePeople } from "../lib/store/people";
import { useRooms } from "../lib/store/rooms";
import { useTimelines } from "../lib/store/timelines";
import { useTyping } from "../lib/store/typing";
import { dayLabel } from "../lib/format";
import { useLayout } from "../lib/layout";
import { notify } from "../lib/notify";
import { followMessageLinks, jumpToSeq, messageLink } from "../lib/message-link";
import { createTimelineScroll } from "../lib/scroll";
import { continuesGroup, dayKey, isPending } from "../lib/timeline";
import type { ChatMessage, RoomSummary } from "../lib/types";
import { Avatar } from "../components/Avatar";
import { Composer } from "../components/Composer";
import { ConfirmDialog } from "../components/Dialog";
import { Icon } from "../components/Icon";
import { MemberList } from "../components/MemberList";
import { MessageItem, type MessageActions } from "../components/MessageItem";
import { AddPeopleDialog } from "../components/RoomDialogs";
import { PinnedList } from "../components/PinnedList";
import { ThreadPanel } from "../components/ThreadPanel";
import { ArchivedBanner, LeaveRoomDialog, RoomSettingsDialog, type SettingsSection } from "../components/RoomSettings";
import { canInvite as mayInvite } from "../lib/room-rules";
import { RoomNotificationsDialog } from "../components/NotificationSettings";
import { roomNotifySummary } from "../lib/badges";
import { useNotifications, useNow } from "../lib/store/notifications";
import { removeLinkPreview, trayFor } from "../lib/file-api";
import type { FileInfo } from "../lib/types";
import { createDropZone } from "../components/AttachmentTray";
import { Lightbox } from "../components/Lightbox";
import { RoomFiles } from "../components/RoomFiles";
import "./RoomView.css";


export function RoomRoute() {
  const params = useParams();
  return (
    <Show when={params.roomId} keyed>
      {(roomId) => <RoomScreen roomId={roomId} />}
    </Show>
  );
}

function RoomScreen(props: { roomId: string }) {
  const rooms = useRooms();
  const room = () => rooms.roomById(props.roomId);
  return (
    <Show
      when={room()}
      fallback={
        <Show when={rooms.loaded()} fallback={<div class="splash" role="status">Loading…</div>}>
          <NotAMember roomId={props.roomId} />
        </Show>
      }
    >
      {(summary) => <RoomBody room={summary} />}
    </Show>
  );
}

function NotAMember(props: { roomId: string }) {
  const rooms = useRooms();
  const layout = useLayout();
  // Not found (or an id that cannot be one) is an answer, not a failure: read as undefined, so
  // nothing reading the room throws into the app's error boundary.
  const [room, { refetch }] = createResource(
    () => props.roomId,
    async (id) => {
      try {
        return { room: await api.rooms.get.query({ id }) };
      } catch (failure) {
        if (isNotFound(failure)) return { room: undefined };
        throw failure;
      }
    },
  );
  const found = () => (room.state === "ready" ? room()?.room : undefined);
  const [busy, setBusy] = createSignal(false);
  createEffect(() => {
    // A member whose list is just behind (joined on another device a moment ago).
    if (found()?.membership) void rooms.refresh();
  });
  const join = async () => {
    setBusy(true);
    try {
      await api.rooms.join.mutate({ id: props.roomId });
      await rooms.refresh();
    } catch (failure) {
      notify(errorMessage(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="room">
      <header class="room-head">
        <button type="button" class="icon-button only-narrow" aria-label="Open rooms" onClick={() => layout.openSidebar()}>
          <Icon name="menu" />
        </button>
      </header>
      <div class="splash">
        <Switch>
          <Match when={room.error}>
            <h1>Could not load the room</h1>
            <p class="muted">{errorMessage(room.error)}</p>
            <button type="button" class="button" onClick={() => void refetch()}>
              Try again
            </button>
          </Match>
          <Match when={room.state === "ready" && !found()}>
            <h1 data-testid="room-not-found">Room not found</h1>
            <p class="muted">This room does not exist, or it is private and you are not in it.</p>
            <A class="button" href="/">
              Back
            </A>
          </Match>
          <Match when={found()}>
            {(r) => (
              <>
                <h1>
                  <Icon name="hash" /> <bdi>{r().name}</bdi>
                </h1>
                <Show when={r().topic}>
                  <p class="muted" dir="auto">{r().topic}</p>
                </Show>
                <p class="muted">
                  {r().memberCount} {r().memberCount === 1 ? "member" : "members"}
                </p>
                <Show when={r().visibility === "public" && !r().archived}>
                  <button type="button" class="button primary" disabled={busy()} onClick={() => void join()}>
                    Join room
                  </button>
                </Show>
              </>
            )}
          </Match>
          <Match when={true}>
            <p role="status">Loading…</p>
          </Match>
        </Switch>
      </div>
    </div>
  );
}

function RoomBody(props: { room: Accessor<RoomSummary> }) {
  const people = usePeople();
  const rooms = useRooms();
  const timelines = useTimelines();
  const typing = useTyping();
  const layout = useLayout();
  const navigate = useNavigate();
  const roomId = untrack(() => props.room().id);
  const timeline = timelines.timeline(roomId);
  const lastReadAtOpen = untrack(() => props.room().lastReadSeq);

  const [showMembers, setShowMembers] = createSignal(globalThis.matchMedia?.("(min-width: 1100px)").matches ?? false);
  const [editingId, setEditingId] = createSignal<string | null>(null);
  const [deleting, setDeleting] = createSignal<ChatMessage | null>(null);
  const [leaving, setLeaving] = createSignal(false);
  const [adding, setAdding] = createSignal(false);
  const [settings, setSettings] = createSignal<SettingsSection | null>(null);
  // --- notifications (issue 18): the room's level and mute, from the bell in the header ---
  const notifications = useNotifications();
  const now = useNow();
  const [notifyOpen, setNotifyOpen] = createSignal(false);
  const mutedUntil = () => {
    now();
    return notifications.roomMutedUntil(roomId);
  };
  const notifySummary = () => roomNotifySummary(notifications.roomLevel(roomId), mutedUntil(), notifications.prefs().defaultLevel, now());
  // --- pins (issue 16) ---
  const [showPins, setShowPins] = createSignal(false);
  // --- files (issue 19): the composer's tray, the drop zone, the lightbox, the room's files panel ---
  const tray = trayFor(roomId, roomId);
  const dropZone = createDropZone((files) => tray.add(files));
  // Files dropped anywhere else on the page (the sidebar, a panel) are not opened by the browser in
  // place of the app: only the room view takes them.
  const keepPage = (event: DragEvent) => {
    if (event.defaultPrevented || !Array.from(event.dataTransfer?.types ?? []).includes("Files")) return;
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "none";
  };
  document.addEventListener("dragover", keepPage);
  document.addEventListener("drop", keepPage);
  onCleanup(() => {
    document.removeEventListener("dragover", keepPage);
    document.removeEventListener("drop", keepPage);
  });
  const [showFiles, setShowFiles] = createSignal(false);
  /** The lightbox: the image shown, among which images (the room view's, or the files panel's). */
  const [lightbox, setLightbox] = createSignal<{ fileId: string; images: Accessor<FileInfo[]> } | null>(null);
  const timelineImages = createMemo(() =>
    timeline.items().flatMap((item) => ("deleted" in item && item.deleted ? [] : (item.attachments ?? []).filter((f) => f.display === "image"))),
  );
  // Changes whenever a file appears in the timeline or goes with its message.
  const filesKey = () =>
    timeline
      .messages()
      .flatMap((m) => (m.deleted ? [] : (m.attachments ?? []).map((f) => f.id)))
      .join(",");
  // --- threads (issue 16): the open thread's root (also from /rooms/:id?thread=rootId) ---
  const [searchParams, setSearchParams] = useSearchParams();
  const threadId = () => (typeof searchParams.thread === "string" ? searchParams.thread : null);
  const openThread = (message: ChatMessage) => setSearchParams({ thread: message.threadRootId || message.id, reply: undefined });
  const closeThread = () => setSearchParams({ thread: undefined, reply: undefined });
  const replySeq = () => (typeof searchParams.reply === "string" && /^\d{1,15}$/.test(searchParams.reply) ? Number(searchParams.reply) : undefined);
  // Changes whenever a loaded message is pinned or unpinned (live, from the message lane).
  const pinKey = () =>
    timeline
      .messages()
      .filter((m) => m.pinnedAt)
      .map((m) => `${m.id}@${m.pinnedAt}`)
      .join(",");
  let scrollerElement: HTMLDivElement | undefined;
  const openPinned = (message: ChatMessage) => void jumpToSeq(timeline, () => scrollerElement, message.seq, notify);
  const scroll = createTimelineScroll({ timeline, myId: people.myId, lastReadSeq: lastReadAtOpen });
  // A link to a message of the room (#seq-N) scrolls to it and highlights it.
  followMessageLinks({ timeline, scroller: () => scrollerElement, notify });
  // A notification opens the room at its message (?reply=N; with &thread=, the thread panel shows it).
  createEffect(
    on(
      () => [threadId() ? undefined : replySeq(), timeline.status() === "ready"] as const,
      ([seq, ready]) => {
        if (seq === undefined || !ready) return;
        requestAnimationFrame(() => void jumpToSeq(timeline, () => scrollerElement, seq, notify));
      },
    ),
  );

  const title = () => rooms.roomTitle(props.room());
  const peer = () => rooms.peerOf(props.room());
  const isDirect = () => props.room().visibility === "direct";
  // Anyone in a public room may add people; only admins in a private one.
  const canInvite = () => mayInvite(props.room());

  // While the newest message is on screen, arrivals are read as they come.
  rooms.setReader(roomId, scroll.reading);
  onCleanup(() => rooms.setReader(roomId, null));

  if (timeline.status() !== "ready") void timeline.loadLatest();

  // Reading the newest message marks the room read.
  createEffect(() => {
    if (!scroll.reading()) return;
    const messages = timeline.messages();
    const last = messages[messages.length - 1];
    if (last && last.seq > props.room().lastReadSeq) rooms.markRead(roomId, last.seq);
  });

  const actions: MessageActions = {
    canDelete: (message) => message.senderId === people.myId || props.room().role === "admin" || props.room().role === "owner",
    startEdit: (message) => setEditingId(message.id),
    cancelEdit: () => setEditingId(null),
    saveEdit: async (message, body) => {
      try {
        await timelines.edit(message, body);
        setEditingId(null);
      } catch (failure) {
        notify(`Could not edit the message: ${errorMessage(failure)}`);
      }
    },
    askDelete: (message) => setDeleting(message),
    // --- pins (issue 16): admins and the owner, or everyone when the room allows it ---
    canPin: () => !props.room().archived && (props.room().membersCanPin || props.room().role === "admin" || props.room().role === "owner"),
    togglePin: async (message) => {
      try {
        if (message.pinnedAt) await api.messages.unpin.mutate({ id: message.id });
        else await api.messages.pin.mutate({ id: message.id });
      } catch (failure) {
        notify(`Could not ${message.pinnedAt ? "unpin" : "pin"} the message: ${errorMessage(failure)}`);
      }
    },
    retry: (clientMsgId) => timeline.retry(clientMsgId),
    discard: (clientMsgId) => timeline.discard(clientMsgId),
    // --- reactions / action bar ---
    react: (message, emoji, add) => {
      timelines.react(message, emoji, add).catch((failure) => notify(`Could not react: ${errorMessage(failure)}`));
    },
    openThread: (message) => openThread(message),
    // --- files and link previews (issue 19) ---
    // Through the room view's images; an image of a thread reply the room does not show, alone.
    openImage: (file) => setLightbox({ fileId: file.id, images: timelineImages().some((f) => f.id === file.id) ? timelineImages : () => [file] }),
    removeLinkPreview: (message, preview) => {
      removeLinkPreview(message.id, preview.url).catch((failure) => notify(`Could not remove the preview: ${errorMessage(failure)}`));
    },
    copyLink: (message) => {
      const url = messageLink(message.roomId, message.seq);
      navigator.clipboard?.writeText(url).then(
        () => notify("Link copied"),
        () => notify(url),
      );
    },
  };

  const editLast = () => {
    const messages = timeline.messages();
    for (let i = messages.length - 1; i >= 0; i--) {
      const message = messages[i]!;
      if (message.senderId === people.myId && !message.deleted) {
        setEditingId(message.id);
        return true;
      }
    }
    return false;
  };

  const typingText = () => {
    const names = typing.typingIn(roomId).map((id) => people.nameOf(id));
    // Names isolated: a right-to-left override in one must not turn the sentence around.
    if (names.length === 0) return "";
    if (names.length === 1) return <><bdi>{names[0]}</bdi> is typing…</>;
    if (names.length === 2) return <><bdi>{names[0]}</bdi> and <bdi>{names[1]}</bdi> are typing…</>;
    return "Several people are typing…";
  };

  const leave = async () => {
    try {
      await api.rooms.leave.mutate({ id: roomId });
      await rooms.refresh();
      navigate("/", { replace: true });
    } catch (failure) {
      notify(`Could not leave the room: ${errorMessage(failure)}`);
    }
  };

  const composerLabel = () => (isDirect() ? `Message ${title()}` : `Message #${title()}`);

  return (
    <div class="room" classList={{ "with-members": showMembers() }}>
      <header class="room-head">
        <button type="button" class="icon-button only-narrow" aria-label="Open rooms" aria-expanded={layout.sidebarOpen()} onClick={() => layout.openSidebar()}>
          <Icon name="menu" />
        </button>
        <div class="room-title">
          <h1>
            <Switch>
              <Match when={peer()}>
                {(id) => <Avatar userId={id()} name={title()} url={people.users[id()]?.avatarUrl} size={24} presence={people.presence[id()] ?? "offline"} />}
              </Match>
              <Match when={rooms.isGroup(props.room())}>
                <Icon name="users" class="room-icon" />
              </Match>
              <Match when={props.room().visibility === "private"}>
                <Icon name="lock" class="room-icon" />
              </Match>
              <Match when={true}>
                <Icon name="hash" class="room-icon" />
              </Match>
            </Switch>
            <span class="room-title-text" dir="auto">{title()}</span>
          </h1>
          <p class="room-topic" dir="auto">
            {isDirect()
              ? peer()
                ? people.users[peer()!]?.statusText || `@${people.users[peer()!]?.username ?? ""}`
                : `${props.room().directMemberIds.length} people`
              : props.room().topic}
          </p>
        </div>
        <div class="room-actions">
          <button
            type="button"
            class="icon-button with-count"
            aria-label={showMembers() ? "Hide members" : "Show members"}
            aria-pressed={showMembers()}
            title="Members"
            onClick={() => {
              setShowMembers((v) => !v);
              setShowFiles(false);
            }}
          >
            <Icon name="users" />
            <span aria-hidden="true">{props.room().memberCount}</span>
          </button>
          {/* --- pins (issue 16) --- */}
          <button
            type="button"
            class="icon-button"
            aria-label={showPins() ? "Hide pinned messages" : "Show pinned messages"}
            aria-pressed={showPins()}
            title="Pinned"
            onClick={() => {
              setShowPins((v) => !v);
              setShowMembers(false);
              setShowFiles(false);
            }}
          >
            <Icon name="pin" />
          </button>
          {/* --- files (issue 19) --- */}
          <button
            type="button"
            class="icon-button"
            aria-label={showFiles() ? "Hide files" : "Show files"}
            aria-pressed={showFiles()}
            title="Files"
            data-testid="room-files-button"
            onClick={() => {
              setShowFiles((v) => !v);
              setShowMembers(false);
              setShowPins(false);
            }}
          >
            <Icon name="folder" />
          </button>
          {/* --- notifications (issue 18) --- */}
          <button
            type="button"
            class="icon-button"
            classList={{ "is-muted": mutedUntil() !== null }}
            aria-label={`Notifications: ${notifySummary()}`}
            aria-haspopup="dialog"
            title={`Notifications: ${notifySummary()}`}
            data-testid="room-notify-button"
            onClick={() => setNotifyOpen(true)}
          >
            <Icon name={mutedUntil() !== null || notifications.roomLevel(roomId) === "nothing" ? "bellOff" : "bell"} />
          </button>
          <Show when={canInvite()}>
            <button type="button" class="icon-button" aria-label="Add people" title="Add people" onClick={() => setAdding(true)}>
              <Icon name="addUser" />
            </button>
          </Show>
          <Show when={!isDirect()}>
            <button type="button" class="icon-button" aria-label="Room settings" title="Room settings" onClick={() => setSettings("details")}>
              <Icon name="settings" />
            </button>
            <button type="button" class="icon-button" aria-label="Leave room" title="Leave room" onClick={() => setLeaving(true)}>
              <Icon name="leave" />
            </button>
          </Show>
        </div>
      </header>

      <div class="room-main">
        <section class="timeline" aria-label={`Conversation in ${title()}`} {...(props.room().archived ? {} : dropZone.handlers)}>
          <Show when={dropZone.active()}>
            <div class="drop-zone" data-testid="drop-zone">
              <p>
                <Icon name="paperclip" size={28} />
                Drop files to share in {isDirect() ? title() : `#${title()}`}
              </p>
            </div>
          </Show>
          <Show when={props.room().archived}>
            <ArchivedBanner room={props.room} />
          </Show>
          <div class="scroller" ref={(element) => {
              scrollerElement = element;
              scroll.ref(element);
            }} onScroll={scroll.onScroll} tabIndex={0} role="log" aria-label="Messages" aria-busy={timeline.status() === "loading"}>
            <div class="history-edge">
              <Switch>
                <Match when={timeline.status() === "error"}>
                  <span class="form-error">
                    Could not load messages: {timeline.error()}{" "}
                    <button type="button" class="link-button" onClick={() => void timeline.loadLatest()}>
                      Retry
                    </button>
                  </span>
                </Match>
                <Match when={timeline.status() === "loading" || timeline.loadingOlder()}>
                  <span class="muted">
                    <span class="spinner" aria-hidden="true" /> Loading messages…
                  </span>
                </Match>
                <Match when={!timeline.hasOlder()}>
                  <span class="muted">{isDirect() ? `This is the beginning of your conversation with ${title()}.` : `This is the beginning of #${title()}.`}</span>
                </Match>
              </Switch>
            </div>
            <For each={timeline.items()}>
              {(item, index) => {
                const previous = () => timeline.items()[index() - 1];
                const newDay = () => !previous() || dayKey(previous()!.createdAt) !== dayKey(item.createdAt);
                const isMarker = () => !isPending(item) && item.seq === scroll.markerSeq();
                const grouped = () => !newDay() && !isMarker() && continuesGroup(previous(), item);
                return (
                  <>
                    <Show when={newDay()}>
                      <div class="day-separator" role="separator" aria-label={dayLabel(item.createdAt)}>
                        <span>{dayLabel(item.createdAt)}</span>
                      </div>
                    </Show>
                    <Show when={isMarker()}>
                      <div class="new-marker" role="separator" aria-label="New messages" data-testid="new-marker">
                        <span>New messages</span>
                      </div>
                    </Show>
                    <MessageItem item={item} grouped={grouped()} editing={!isPending(item) && editingId() === item.id} actions={actions} />
                  </>
                );
              }}
            </For>
          </div>

          <Show when={!scroll.atBottom()}>
            <button type="button" class="jump-latest" onClick={() => scroll.scrollToBottom()}>
              <Icon name="down" size={16} />
              {scroll.newBelow() > 0 ? `${scroll.newBelow()} new ${scroll.newBelow() === 1 ? "message" : "messages"}` : "Jump to latest"}
            </button>
          </Show>

          <div class="typing" aria-live="polite">
            {typingText()}
          </div>

          <Show
            when={!props.room().archived}
            fallback={
              <p class="archived-note" role="note">
                This room is archived: it can be read but not written to.
              </p>
            }
          >
            <Composer
              roomId={roomId}
              label={composerLabel()}
              tray={tray}
              onSend={(body, files) => {
                timeline.send(body, files);
                queueMicrotask(scroll.scrollToBottom);
              }}
              onEditLast={editLast}
            />
          </Show>
        </section>

        <Show when={showMembers() && !threadId()}>
          <MemberList roomId={roomId} onClose={() => setShowMembers(false)} />
        </Show>
        <Show when={showPins() && !showMembers()}>
          <PinnedList roomId={roomId} pinKey={pinKey} onOpen={openPinned} onClose={() => setShowPins(false)} />
        </Show>
        <Show when={showFiles() && !showMembers() && !showPins()}>
          <RoomFiles
            roomId={roomId}
            filesKey={filesKey}
            onOpenImage={(file, images) => setLightbox({ fileId: file.id, images: () => images })}
            onClose={() => setShowFiles(false)}
          />
        </Show>
        <Show when={threadId()}>
          {(rootId) => (
            <ThreadPanel
              roomId={roomId}
              rootId={rootId()}
              archived={props.room().archived}
              actions={actions}
              editingId={editingId}
              onClose={closeThread}
              highlightSeq={replySeq()}
            />
          )}
        </Show>
      </div>

      {/* Read from the signal, not through <Show>'s accessor: closing must not make the lightbox's
          own computations read a value that is gone ("stale read"), and moving to another image
          keeps the same lightbox (and the element focus returns to). */}
      <Show when={lightbox() !== null}>
        <Lightbox
          images={lightbox()?.images() ?? []}
          fileId={lightbox()?.fileId ?? ""}
          onShow={(fileId) => setLightbox((open) => (open ? { ...open, fileId } : open))}
          onClose={() => setLightbox(null)}
        />
      </Show>
      <Show when={deleting()}>
        {(message) => (
          <ConfirmDialog
            title="Delete message"
            message="Delete this message for everyone? This cannot be undone."
            confirmLabel="Delete"
            danger
            onClose={() => setDeleting(null)}
            onConfirm={() => {
              // The message turns into a tombstone once the server has deleted it (over the
              // socket: while it is down, the deletion waits for it like a send does).
              const doomed = message();
              setDeleting(null);
              timelines.remove(doomed).catch((failure: unknown) => notify(`Could not delete the message: ${errorMessage(failure)}`));
            }}
          />
        )}
      </Show>
      <Show when={notifyOpen()}>
        <RoomNotificationsDialog room={props.room()} title={isDirect() ? title() : `#${title()}`} onClose={() => setNotifyOpen(false)} />
      </Show>
      <Show when={adding()}>
        <AddPeopleDialog roomId={roomId} roomName={title()} onClose={() => setAdding(false)} />
      </Show>
      <Show when={leaving()}>
        <LeaveRoomDialog
          room={props.room}
          onClose={() => setLeaving(false)}
          onTransfer={() => {
            setLeaving(false);
            setSettings("transfer");
          }}
          onLeave={leave}
        />
      </Show>
      <Show when={settings()}>
        {(section) => (
          <RoomSettingsDialog
            room={props.room}
            section={section()}
            onClose={() => setSettings(null)}
            onLeave={() => {
              setSettings(null);
              setLeaving(true);
            }}
          />
        )}
      </Show>
    </div>
  );
}
