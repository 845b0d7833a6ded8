// Entrypoint of a socket node in the distributed mode.
import { runMain } from "@parley/kit";
import { launch } from "./launch.js";

await runMain("socket", launch);
