import { env, serviceEnvShape } from "@parley/kit";
import { z } from "zod";

export const roomEnv = z.object({
  ...serviceEnvShape(3003),
  /** Profiles for member lists, and whether the other person of a direct room exists. */
  USER_SERVICE_ADDR: env.address("127.0.0.1:3002"),
  /** Last seq, last activity and unread counts per room (GetRoomStats). */
  MESSAGE_SERVICE_ADDR: env.address("127.0.0.1:3004"),
});
export type RoomEnv = z.infer<typeof roomEnv>;
