// A form's error line: announced at once (role="alert"), absent when there is none.
import { Show } from "solid-js";
import type { FormError as Failure } from "../lib/form";

export function FormError(props: { error: Failure | null }) {
  return (
    <Show when={props.error}>
      {(error) => (
        <p class="form-error" role="alert">
          {error().text}
        </p>
      )}
    </Show>
  );
}
