import { env, serviceEnvShape } from "@parley/kit";
import { z } from "zod";

export const messageEnv = z.object({
  ...serviceEnvShape(3004),
  ROOM_SERVICE_ADDR: env.address("127.0.0.1:3003"),
});
export type MessageEnv = z.infer<typeof messageEnv>;
