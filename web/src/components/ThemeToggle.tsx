import { effectiveTheme, toggleTheme } from "../lib/theme";
import { Icon } from "./Icon";

export function ThemeToggle() {
  const label = () => (effectiveTheme() === "dark" ? "Switch to light theme" : "Switch to dark theme");
  return (
    <button type="button" class="icon-button" aria-label={label()} title={label()} onClick={toggleTheme}>
      <Icon name={effectiveTheme() === "dark" ? "sun" : "moon"} />
    </button>
  );
}
