import { env, serviceEnvShape } from "@parley/kit";
import { z } from "zod";

export const messageEnv = z.object({
  ...serviceEnvShape(3004),
  ROOM_SERVICE_ADDR: env.address("127.0.0.1:3003"),
  // @username mentions are resolved by the user service (issue 16).
  USER_SERVICE_ADDR: env.address("127.0.0.1:3002"),
});
export type MessageEnv = z.infer<typeof messageEnv>;
