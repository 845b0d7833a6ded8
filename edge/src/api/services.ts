// Typed clients for the services behind the edge, and the metadata that
// carries the verified caller to them (signed into the internal credential by the clients).
import { createServiceClient, META, type InternalAuth } from "@parley/kit";
import { AuthService } from "@parley/proto/auth/v1/auth_pb";
import { FileService } from "@parley/proto/file/v1/file_pb";
import { MessageService } from "@parley/proto/message/v1/message_pb";
import { NotificationService } from "@parley/proto/notify/v1/notify_pb";
import { RoomService } from "@parley/proto/room/v1/room_pb";
import { UserService } from "@parley/proto/user/v1/user_pb";

export interface ServiceAddresses {
  auth: string;
  user: string;
  room: string;
  message: string;
  /** The notification service (issue 18): preferences, Web Push subscriptions, email unsubscribe. */
  notify: string;
}

export function createServiceClients(addresses: ServiceAddresses, internalAuth: InternalAuth) {
  return {
    auth: createServiceClient(AuthService, addresses.auth, { internalAuth }),
    users: createServiceClient(UserService, addresses.user, { internalAuth }),
    rooms: createServiceClient(RoomService, addresses.room, { internalAuth }),
    messages: createServiceClient(MessageService, addresses.message, { internalAuth }),
    // Hosted by the message process (issue 19): files are rows of the message database.
    files: createServiceClient(FileService, addresses.message, { internalAuth }),
    notify: createServiceClient(NotificationService, addresses.notify, { internalAuth }),
  };
}

export type ServiceClients = ReturnType<typeof createServiceClients>;

export interface Caller {
  requestId: string;
  clientAddress: string;
  userAgent: string;
  userId?: string;
  sessionId?: string;
}

/** Call options that tell a service who is calling (the client turns the user and session into its signed credential). */
export function callOptions(caller: Caller): { headers: Record<string, string> } {
  const headers: Record<string, string> = {
    [META.requestId]: caller.requestId,
    [META.clientAddress]: caller.clientAddress,
    [META.userAgent]: caller.userAgent.slice(0, 512),
  };
  if (caller.userId) headers[META.userId] = caller.userId;
  if (caller.sessionId) headers[META.sessionId] = caller.sessionId;
  return { headers };
}
