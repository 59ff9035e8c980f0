import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { THEME_KEY, storedTheme } from "../theme";
import { ThemeToggle } from "./ThemeToggle";

beforeEach(() => window.localStorage.clear());
afterEach(cleanup);

describe("ThemeToggle", () => {
  it("switches to dark and back, and remembers the choice", () => {
    render(<ThemeToggle />);
    const button = screen.getByRole("button", { name: "Dark theme" });
    expect(button.getAttribute("aria-pressed")).toBe("false"); // the system here prefers light
    expect(document.documentElement.dataset.theme).toBe("light");
    fireEvent.click(button);
    expect(button.getAttribute("aria-pressed")).toBe("true");
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect(window.localStorage.getItem(THEME_KEY)).toBe("dark");
    cleanup();
    render(<ThemeToggle />);
    expect(screen.getByRole("button", { name: "Dark theme" }).getAttribute("aria-pressed")).toBe("true");
    fireEvent.click(screen.getByRole("button", { name: "Dark theme" }));
    expect(window.localStorage.getItem(THEME_KEY)).toBe("light");
    expect(document.documentElement.dataset.theme).toBe("light");
  });

  it("ignores a stored value it does not know", () => {
    expect(storedTheme({ getItem: () => "sepia" })).toBeNull();
    expect(storedTheme({ getItem: () => "dark" })).toBe("dark");
  });
});
