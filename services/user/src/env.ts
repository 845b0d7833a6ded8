import { serviceEnvShape } from "@parley/kit";
import { z } from "zod";

export const userEnv = z.object({ ...serviceEnvShape(3002) });
export type UserEnv = z.infer<typeof userEnv>;
