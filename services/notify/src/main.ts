// Entrypoint of the notify service in the distributed mode.
import { runMain } from "@parley/kit";
import { launch } from "./launch.js";

await runMain("notify", launch);
