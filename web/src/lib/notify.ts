// Short messages for the person (errors mostly), read out by screen readers.
import { createSignal } from "solid-js";

export interface Toast {
  id: number;
  text: string;
}

const [toasts, setToasts] = createSignal<Toast[]>([]);
let next = 1;
export { toasts };

export function notify(text: string, ms = 6000): void {
  const id = next++;
  setToasts((list) => [...list.slice(-3), { id, text }]);
  setTimeout(() => dismiss(id), ms);
}

export function dismiss(id: number): void {
  setToasts((list) => list.filter((t) => t.id !== id));
}
