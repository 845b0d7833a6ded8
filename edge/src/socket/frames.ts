// Events to frames: what a socket is sent for each event of the broker (events.proto) and for
// the node's own answers. Pure functions: the node decides who gets a frame, not this file.
import type { Event, PresenceState } from "@parley/proto/events/v1/events_pb";
import type { Message } from "@parley/proto/message/v1/message_pb";
import type { Membership } from "@parley/proto/room/v1/room_pb";
import { OutgoingFrame } from "./protocol.js";

type MemberKind = "memberJoined" | "memberLeft" | "memberKicked" | "memberRoleChanged";

export function memberFrame(kind: MemberKind, roomId: string, userId: string, event: object): OutgoingFrame {
  const { membership, byUserId } = event as { membership?: Membership; byUserId?: string };
  return new OutgoingFrame({ frame: { case: kind, value: { roomId, userId, membership, byUserId: byUserId ?? "" } } });
}

export const createdFrame = (message: Message) => new OutgoingFrame({ frame: { case: "messageCreated", value: { message } } });

export const presenceFrame = (userId: string, state: PresenceState) => new OutgoingFrame({ frame: { case: "presence", value: { userId, state } } });

export const liveFrame = (roomId: string, lastSeq: bigint) => new OutgoingFrame({ frame: { case: "live", value: { roomId, lastSeq } } });

export const helloFrame = (userId: string, tokenExpiresAtMs: number, nodeId: string, maxFrameBytes: number) =>
  new OutgoingFrame({ frame: { case: "hello", value: { userId, tokenExpiresAtMs: BigInt(tokenExpiresAtMs), nodeId, maxFrameBytes } } });

export const ackFrame = (ref: string, value: { message?: Message; lastReadSeq?: bigint } = {}) =>
  new OutgoingFrame({ frame: { case: "ack", value: { ref, ...value } } });

export const errorFrame = (ref: string, code: string, message: string, roomId = "", retryAfterMs = 0, field = "") =>
  new OutgoingFrame({ frame: { case: "error", value: { ref, code, message, roomId, retryAfterMs, field } } });

export const pongFrame = (nonce: string) => new OutgoingFrame({ frame: { case: "pong", value: { nonce } } });

/**
 * The frame a room-topic event becomes for the room's subscribers, or undefined for events that
 * are not simply relayed (messageCreated goes through the sequencer, headBeacon is internal).
 */
export function roomEventFrame(roomId: string, { payload }: Event): OutgoingFrame | undefined {
  switch (payload.case) {
    case "messageEdited":
    case "messageDeleted":
      return payload.value.message && new OutgoingFrame({ frame: { case: payload.case, value: { message: payload.value.message } } });
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
 * closes sockets instead). `outsideRoom`: it goes only to sockets not subscribed to event.roomId,
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
    default:
      return undefined;
  }
}
