// Graceful shutdown: on SIGTERM or SIGINT, run the stop steps in order
// (stop accepting and drain calls, close the broker, close the database), then exit.
import type { Logger } from "./logger.js";

export type StopStep = { name: string; stop: () => Promise<void> };

export function stopOnSignals(log: Logger, steps: StopStep[]): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, "shutting down");
    void runStopSteps(log, steps).then((ok) => process.exit(ok ? 0 : 1));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

/** Runs every step even if one fails; resolves to false if any failed. */
export async function runStopSteps(log: Logger, steps: StopStep[]): Promise<boolean> {
  let ok = true;
  for (const step of steps) {
    try {
      await step.stop();
      log.info({ step: step.name }, "stopped");
    } catch (error) {
      ok = false;
      log.error({ step: step.name, err: error }, "stop step failed");
    }
  }
  return ok;
}
