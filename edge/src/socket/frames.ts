// Events to frames: what a socket is sent for each event of the broker (events.proto) and for
// the node's own answers. Pure functions: the node decides who gets a frame, not this file.
import { create } from "@bufbuild/protobuf";
import {
  EventSchema,
  MemberJoinedSchema,
  MemberKickedSchema,
  MemberLeftSchema,
  MemberRoleChangedSchema,
  RoomUpdatedSchema,
  type Event,
  type PresenceState,
} from "@parley/proto/events/v1/events_pb";
import type { Message, SearchMessagesResponse } from "@parley/proto/message/v1/message_pb";
import type { Membership, RoomChange } from "@parley/proto/room/v1/room_pb";
import { OutgoingFrame } from "./protocol.js";

type MemberKind = "memberJoined" | "memberLeft" | "memberKicked" | "memberRoleChanged";

export function memberFrame(kind: MemberKind, roomId: string, userId: string, event: object): OutgoingFrame {
  const { membership, byUserId } = event as { membership?: Membership; byUserId?: string };
  return new OutgoingFrame({ frame: { case: kind, value: { roomId, userId, membership, byUserId: byUserId ?? "" } } });
}

/**
 * A message of the room's stream in its state after its latest change, at its position in the
 * message lane: deleted, edited, or as sent. Live events and reads of the lane alike: a client
 * applies each as an upsert by id.
 */
export function messageFrame(message: Message): OutgoingFrame {
  // A message changed since it was sent (an edit, a reaction, a pin, a thread reply to it, link previews fetched
  // after the send) goes out as edited: a client that has it applies it, one that has not takes it as new.
  const changed = message.editTime || message.reactions.length > 0 || message.pinTime || message.thread || message.linkPreviews.length > 0;
  const kind = message.deleted ? "messageDeleted" : changed ? "messageEdited" : "messageCreated";
  return new OutgoingFrame({ position: { messages: message.change }, frame: { case: kind, value: { message } } });
}

/**
 * A change of the room lane (an event of the room service, live or read back), at its position.
 * A kind this node cannot describe (from a newer room service) still moves the client's position.
 */
export function roomChangeFrame(roomId: string, event: Event): OutgoingFrame {
  const frame = roomEventFrame(roomId, event);
  return new OutgoingFrame({ position: { room: event.change }, frame: frame?.frame.frame });
}

/** A RoomChange read from RoomService.ListRoomChanges, as the event it was published as. */
export function roomChangeEvent(roomId: string, change: RoomChange): Event {
  const { payload, byUserId } = change;
  const event = create(EventSchema, { roomId, change: change.change, time: change.time });
  switch (payload.case) {
    case "memberJoined":
      event.payload = { case: "memberJoined", value: create(MemberJoinedSchema, { membership: payload.value, byUserId }) };
      break;
    case "memberRoleChanged":
      event.payload = { case: "memberRoleChanged", value: create(MemberRoleChangedSchema, { membership: payload.value, byUserId }) };
      break;
    case "memberLeft":
      event.payload = { case: "memberLeft", value: create(MemberLeftSchema, { userId: payload.value }) };
      break;
    case "memberKicked":
      event.payload = { case: "memberKicked", value: create(MemberKickedSchema, { userId: payload.value, byUserId }) };
      break;
    case "roomUpdated":
      event.payload = { case: "roomUpdated", value: create(RoomUpdatedSchema, { room: payload.value }) };
      break;
  }
  return event;
}

export const presenceFrame = (userId: string, state: PresenceState) => new OutgoingFrame({ frame: { case: "presence", value: { userId, state } } });

export const liveFrame = (roomId: string, lastSeq: bigint, position: { messages: bigint; room: bigint }) =>
  new OutgoingFrame({ position, frame: { case: "live", value: { roomId, lastSeq } } });

export const helloFrame = (userId: string, tokenExpiresAtMs: number, nodeId: string, maxFrameBytes: number) =>
  new OutgoingFrame({ frame: { case: "hello", value: { userId, tokenExpiresAtMs: BigInt(tokenExpiresAtMs), nodeId, maxFrameBytes } } });

export const ackFrame = (ref: string, value: { message?: Message; lastReadSeq?: bigint; search?: SearchMessagesResponse } = {}) =>
  new OutgoingFrame({ frame: { case: "ack", value: { ref, ...value } } });

export const errorFrame = (ref: string, code: string, message: string, roomId = "", retryAfterMs = 0, field = "") =>
  new OutgoingFrame({ frame: { case: "error", value: { ref, code, message, roomId, retryAfterMs, field } } });

export const pongFrame = (nonce: string) => new OutgoingFrame({ frame: { case: "pong", value: { nonce } } });

/**
 * The frame a room-topic event becomes for the room's subscribers, or undefined for events that
 * are not simply relayed (message events go through the message lane as messageFrame, headBeacon is internal).
 */
export function roomEventFrame(roomId: string, { payload }: Event): OutgoingFrame | undefined {
  switch (payload.case) {
    case "typing":
      return new OutgoingFrame({ frame: { case: "typing", value: { roomId, userId: payload.value.userId } } });
    case "presenceChanged":
      return presenceFrame(payload.value.userId, payload.value.state);
    case "memberJoined":
    case "memberRoleChanged":
      return memberFrame(payload.case, roomId, payload.value.membership?.userId ?? "", payload.value);
    case "memberLeft":
    case "memberKicked":
      return memberFrame(payload.case, roomId, payload.value.userId, payload.value);
    case "roomUpdated":
      return new OutgoingFrame({ frame: { case: "roomUpdated", value: { room: payload.value.room } } });
    default:
      return undefined;
  }
}

/**
 * The frame a user-topic event becomes for that user's sockets, or undefined (sessionsRevoked
 * closes sockets instead). One frame per event: each encoding is serialised once, for every socket. `outsideRoom`: it goes only to sockets not subscribed to event.roomId,
 * which get the same event from the room's topic.
 */
export function userEventFrame(userId: string, event: Event): { frame: OutgoingFrame; outsideRoom: boolean } | undefined {
  const { payload, roomId } = event;
  switch (payload.case) {
    case "readMarkerMoved":
      return { frame: new OutgoingFrame({ frame: { case: "readMarker", value: { roomId, lastReadSeq: payload.value.lastReadSeq } } }), outsideRoom: false };
    case "memberJoined":
    case "memberRoleChanged":
      return { frame: memberFrame(payload.case, roomId, payload.value.membership?.userId ?? userId, payload.value), outsideRoom: true };
    case "memberLeft":
    case "memberKicked":
      return { frame: memberFrame(payload.case, roomId, payload.value.userId, payload.value), outsideRoom: true };
    case "roomCreated":
    case "roomUpdated":
      return { frame: new OutgoingFrame({ frame: { case: "roomUpdated", value: { room: payload.value.room } } }), outsideRoom: true };
    case "notificationCreated":
      // The in-app (desktop) channel of issue 18: to every socket of the person, subscribed to the room or not.
      return payload.value.notification
        ? { frame: new OutgoingFrame({ frame: { case: "notification", value: payload.value.notification } }), outsideRoom: false }
        : undefined;
    default:
      return undefined;
  }
}
