// Every benchmark scenario, in the order `npm run bench` runs them. Add yours here.
import type { Scenario } from "../lib/scenario.js";
import { edgeHttp } from "./edge-http.js";
import { files } from "./files.js";
import { grpcGetUser } from "./grpc-getuser.js";
import { messageList } from "./message-list.js";
import { messageSend } from "./message-send.js";
import { search } from "./search.js";
import { timingOracles } from "./timing-oracles.js";
import { wsFanout } from "./ws-fanout.js";
import { wsSendPath } from "./ws-send-path.js";
import { wsStorm } from "./ws-storm.js";

export const scenarios: Scenario[] = [grpcGetUser, messageSend, messageList, edgeHttp, search, files, wsFanout, wsSendPath, wsStorm, timingOracles];
