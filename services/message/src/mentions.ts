// Whom a message mentions (issue 16), decided here at send and on edit: the text's @usernames
// (outside code, case-insensitive: proto/rules/mentions.ts) resolved to user ids by the user
// service, kept only for people who are members of the room, and @room / @here.
import { Code, ConnectError, asUser } from "@parley/kit";
import type { Client } from "@connectrpc/connect";
import { MentionBroadcast } from "@parley/proto/message/v1/message_pb";
import type { UserService } from "@parley/proto/user/v1/user_pb";
import { parseMentions } from "@parley/proto/rules/mentions";
import type { Mentions } from "./repositories.js";
import type { RoomGate } from "./room-access.js";

export type UserClient = Pick<Client<typeof UserService>, "resolveLogin">;

const BROADCAST = { room: MentionBroadcast.ROOM, here: MentionBroadcast.HERE } as const;

export class MentionResolver {
  constructor(
    private readonly users: UserClient,
    private readonly rooms: RoomGate,
  ) {}

  /**
   * The body's mentions in the room, for a sender who is a member. Each distinct username is one
   * lookup (at most MAX_MENTIONED_USERNAMES, concurrently), each person found one membership check;
   * unknown names and non-members are plain text.
   */
  async resolve(body: string, roomId: string, senderId: string): Promise<Mentions> {
    const parsed = parseMentions(body);
    const ids = await Promise.all(parsed.usernames.map((username) => this.userIdOf(username, senderId)));
    const distinct = [...new Set(ids.filter((id): id is string => id !== undefined))];
    const members = await Promise.all(distinct.map((id) => (id === senderId ? true : this.rooms.isMember(roomId, id))));
    return {
      userIds: distinct.filter((_, i) => members[i]),
      broadcast: parsed.broadcast ? BROADCAST[parsed.broadcast] : MentionBroadcast.UNSPECIFIED,
    };
  }

  private async userIdOf(username: string, senderId: string): Promise<string | undefined> {
    try {
      return (await this.users.resolveLogin({ login: username }, asUser(senderId))).userId || undefined;
    } catch (error) {
      if (ConnectError.from(error).code === Code.NotFound) return undefined;
      throw error;
    }
  }
}
