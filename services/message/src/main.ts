// Entrypoint of the message service in the distributed mode.
import { runMain } from "@parley/kit";
import { launch } from "./launch.js";

await runMain("message", launch);
