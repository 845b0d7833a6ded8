import { env, serviceEnvShape } from "@parley/kit";
import { z } from "zod";

export const roomEnv = z.object({
  ...serviceEnvShape(3003),
  /** Profiles for member lists, and whether the other person of a direct room exists. */
  USER_SERVICE_ADDR: env.address("127.0.0.1:3002"),
});
export type RoomEnv = z.infer<typeof roomEnv>;
