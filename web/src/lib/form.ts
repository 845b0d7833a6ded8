// One way to submit a form: busy while the action runs, and the error it failed with
// (the text for the form's role="alert" line, and the field the server named, if any).
import { createSignal } from "solid-js";
import { errorField, errorMessage } from "./api";

export interface FormError {
  text: string;
  field?: string;
}

/**
 * `busy()` is what is being done (true, or a key such as the id of the row whose button
 * was pressed), null when idle. `run` clears the last error, runs the action and keeps
 * its failure; it resolves to whether the action succeeded.
 */
export function createSubmit<Key extends string | true = true>() {
  const [busy, setBusy] = createSignal<Key | null>(null);
  const [error, setError] = createSignal<FormError | null>(null);

  async function run(action: () => Promise<void>, key: Key = true as Key): Promise<boolean> {
    setBusy(() => key);
    setError(null);
    try {
      await action();
      return true;
    } catch (failure) {
      setError({ text: errorMessage(failure), field: errorField(failure) });
      return false;
    } finally {
      setBusy(null);
    }
  }

  return {
    busy,
    error,
    run,
    /** An onSubmit handler: no page load, then `run`. */
    onSubmit: (action: () => Promise<void>) => (event: SubmitEvent) => {
      event.preventDefault();
      void run(action);
    },
    /** aria-invalid for an input: "true" when the last error was about its field. */
    invalid: (field: string): "true" | undefined => (error()?.field === field ? "true" : undefined),
  };
}
