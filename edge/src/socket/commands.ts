// Client frames, one handler each: what a Subscribe, Send, Edit, Delete, MarkRead, Typing,
// Reauth, Ping or Search does. Failures are thrown (ConnectError) and answered by the node (errors.ts).
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { newEvent, topics, type Broker, type RateLimiter } from "@parley/kit";
import type { MessageService } from "@parley/proto/message/v1/message_pb";
import type { RoomService } from "@parley/proto/room/v1/room_pb";
import type { ClientFrame, Subscribe } from "@parley/proto/socket/v1/socket_pb";
import { SEND_BUDGET_WINDOW_MS, sendBudgetKey } from "../send-budget.js";
import type { SocketAuth } from "./auth.js";
import { ackFrame, errorFrame, pongFrame } from "./frames.js";
import type { SocketLimits } from "./limits.js";
import { CLOSE, type OutgoingFrame } from "./protocol.js";
import { asUserOf, type Socket, type SocketState } from "./state.js";

export interface FrameCommandDeps {
  services: { rooms: Client<typeof RoomService>; messages: Client<typeof MessageService> };
  auth: SocketAuth;
  limiter: RateLimiter;
  broker: Broker;
  limits: SocketLimits;
  /** Sends to one socket (corked: these follow an await). */
  send(ws: Socket, ...frames: OutgoingFrame[]): void;
  /** Subscriptions are the node's: replay, the room's sequencer, topics. */
  subscribe(ws: Socket, state: SocketState, ref: string, request: Subscribe): Promise<void>;
  unsubscribe(ws: Socket, roomId: string): void;
  /** Arms the close at the token's expiry (again, after Reauth). */
  armExpiry(ws: Socket, state: SocketState): void;
}

export class FrameCommands {
  constructor(private readonly deps: FrameCommandDeps) {}

  async handle(ws: Socket, state: SocketState, { ref, frame }: ClientFrame): Promise<void> {
    const { deps } = this;
    if (frame.case !== "ping" && (await deps.auth.sessionEnded(state.sessionId))) {
      if (!state.closed) ws.end(CLOSE.sessionsRevoked, "the session has ended; sign in again");
      return;
    }
    switch (frame.case) {
      case "subscribe":
        return deps.subscribe(ws, state, ref, frame.value);
      case "unsubscribe":
        deps.unsubscribe(ws, frame.value.roomId);
        return deps.send(ws, ackFrame(ref));
      case "send":
        return this.sendMessage(ws, state, ref, frame.value);
      case "edit": {
        const { message } = await deps.services.messages.editMessage({ messageId: frame.value.messageId, body: frame.value.body }, asUserOf(state));
        return deps.send(ws, ackFrame(ref, { message }));
      }
      case "delete": {
        const { message } = await deps.services.messages.deleteMessage({ messageId: frame.value.messageId }, asUserOf(state));
        return deps.send(ws, ackFrame(ref, { message }));
      }
      case "markRead":
        return this.markRead(ws, state, ref, frame.value);
      case "typing":
        return this.typing(state, frame.value.roomId);
      case "reauth": {
        const claims = await deps.auth.reauth(frame.value.token, state.userId);
        state.expiresAt = claims.expiresAt;
        state.sessionId = claims.sessionId;
        deps.armExpiry(ws, state);
        return deps.send(ws, ackFrame(ref));
      }
      case "ping":
        return deps.send(ws, pongFrame(frame.value.nonce));
      // --- search (issue 17): as GET /api/v1/search, the service checks the request ---
      case "search": {
        const search = await deps.services.messages.searchMessages(frame.value, asUserOf(state));
        return deps.send(ws, ackFrame(ref, { search }));
      }
      default:
        throw new ConnectError("unknown frame type", Code.InvalidArgument);
    }
  }

  private async sendMessage(
    ws: Socket,
    state: SocketState,
    ref: string,
    send: { roomId: string; clientMsgId: string; body: string; replyToId: string; fileIds: string[] },
  ): Promise<void> {
    const { deps } = this;
    const budget = await deps.limiter.hit(sendBudgetKey(state.userId), deps.limits.sendsPer10sPerUser, SEND_BUDGET_WINDOW_MS).catch((error: unknown) => {
      throw new ConnectError("the send budget cannot be checked right now", Code.Unavailable, undefined, undefined, error);
    });
    if (!budget.allowed) {
      // Not stored: the client retries the same Send (same clientMsgId) after the pause.
      return deps.send(ws, errorFrame(ref, "RESOURCE_EXHAUSTED", "too many messages; try again later", send.roomId, Math.max(1, budget.retryAfterMs)));
    }
    const { message } = await deps.services.messages.sendMessage(
      // Files uploaded over HTTP first (POST /api/v1/rooms/{roomId}/files): the service checks and attaches them.
      { roomId: send.roomId, clientMsgId: send.clientMsgId, body: send.body, replyToId: send.replyToId, fileIds: send.fileIds },
      asUserOf(state),
    );
    return deps.send(ws, ackFrame(ref, { message }));
  }

  private async markRead(ws: Socket, state: SocketState, ref: string, { roomId, seq }: { roomId: string; seq: bigint }): Promise<void> {
    const { lastReadSeq } = await this.deps.services.messages.markRead({ roomId, seq }, asUserOf(state));
    return this.deps.send(ws, ackFrame(ref, { lastReadSeq }));
  }

  private typing(state: SocketState, roomId: string): void {
    if (!state.subs.has(roomId)) throw new ConnectError("subscribe to the room first", Code.FailedPrecondition);
    const last = state.typingAt.get(roomId) ?? 0;
    if (Date.now() - last < this.deps.limits.typingIntervalMs) return;
    state.typingAt.set(roomId, Date.now());
    this.deps.broker.publish(topics.room(roomId), newEvent(roomId, { case: "typing", value: { userId: state.userId } }));
  }
}
