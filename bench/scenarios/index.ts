// Every benchmark scenario, in the order `npm run bench` runs them. Add yours here.
import type { Scenario } from "../lib/scenario.js";
import { grpcGetUser } from "./grpc-getuser.js";

export const scenarios: Scenario[] = [grpcGetUser];
