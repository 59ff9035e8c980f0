// The header's light/dark switch; the choice is remembered (theme.ts).
import { useTheme } from "../theme";

export function ThemeToggle() {
  const [theme, setTheme] = useTheme();
  const dark = theme === "dark";
  return (
    <button type="button" className="link theme-toggle" aria-pressed={dark} onClick={() => setTheme(dark ? "light" : "dark")}>
      Dark theme
    </button>
  );
}
