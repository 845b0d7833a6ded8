// Entrypoint of the edge in the distributed mode.
import { runMain } from "@parley/kit";
import { launch } from "./launch.js";

await runMain("edge", launch);
