// Entrypoint of the room service in the distributed mode.
import { runMain } from "@parley/kit";
import { launch } from "./launch.js";

await runMain("room", launch);
