// Light or dark: the system's preference (prefers-color-scheme) until the person picks one with
// the header's toggle; the pick is remembered in this browser. The choice is an attribute on
// <html> that styles.css reads, so it applies before React renders anything else.
import { useCallback, useEffect, useState } from "react";

export type Theme = "light" | "dark";

export const THEME_KEY = "batonflow.theme";

/** What the person picked earlier, if anything. */
export function storedTheme(storage: Pick<Storage, "getItem"> = window.localStorage): Theme | null {
  const value = storage.getItem(THEME_KEY);
  return value === "light" || value === "dark" ? value : null;
}

export function systemTheme(): Theme {
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
  document.documentElement.style.colorScheme = theme;
}

/** The theme in use and a way to change it (which remembers the choice). */
export function useTheme(): [Theme, (theme: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(() => storedTheme() ?? systemTheme());
  useEffect(() => applyTheme(theme), [theme]);
  useEffect(() => {
    // Follow the system while the person has not picked a theme.
    const query = window.matchMedia?.("(prefers-color-scheme: dark)");
    if (!query) return;
    const follow = () => {
      if (storedTheme() === null) setTheme(query.matches ? "dark" : "light");
    };
    query.addEventListener("change", follow);
    return () => query.removeEventListener("change", follow);
  }, []);
  const choose = useCallback((next: Theme) => {
    window.localStorage.setItem(THEME_KEY, next);
    setTheme(next);
  }, []);
  return [theme, choose];
}
