// Light, dark, or whatever the system prefers (the default); the choice is remembered.
// The theme shown is always on <html data-theme>: styles/theme.css reads only that.
import { createSignal } from "solid-js";

export type ThemeChoice = "system" | "light" | "dark";
const KEY = "parley.theme";

function stored(): ThemeChoice {
  try {
    const value = localStorage.getItem(KEY);
    return value === "light" || value === "dark" ? value : "system";
  } catch {
    return "system";
  }
}

const [theme, setThemeSignal] = createSignal<ThemeChoice>(stored());
export { theme };

const darkQuery = globalThis.matchMedia?.("(prefers-color-scheme: dark)");
const [systemDark, setSystemDark] = createSignal(darkQuery?.matches ?? false);
darkQuery?.addEventListener("change", (event) => {
  setSystemDark(event.matches);
  apply();
});

function apply(): void {
  document.documentElement.setAttribute("data-theme", effectiveTheme());
}

export function setTheme(choice: ThemeChoice): void {
  setThemeSignal(choice);
  try {
    if (choice === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    // Not remembered: still applied.
  }
  apply();
}

/** The theme actually shown now. */
export function effectiveTheme(): "light" | "dark" {
  const choice = theme();
  if (choice !== "system") return choice;
  return systemDark() ? "dark" : "light";
}

export function toggleTheme(): void {
  setTheme(effectiveTheme() === "dark" ? "light" : "dark");
}

apply();
