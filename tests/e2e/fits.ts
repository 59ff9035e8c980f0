// The browser tests' check that a page fits its screen: no wider than the viewport, and on
// failure the elements that reach past it are named with where they end.
import { expect } from "@playwright/test";
import type { Page } from "@playwright/test";

/** The page (once loaded) is no wider than its viewport; `soft` lets a test visiting many pages
 * go on and report every page that does not fit. */
export async function fits(page: Page, { soft = false }: { soft?: boolean } = {}): Promise<void> {
  await expect(page.locator(".state-loading")).toHaveCount(0);
  const measured = await page.evaluate(() => {
    const width = document.documentElement.scrollWidth;
    const wide =
      width > window.innerWidth
        ? Array.from(document.querySelectorAll("body *"))
            .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 4)
            .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`)
        : [];
    return { width, wide };
  });
  const where = new URL(page.url()).pathname;
  const expected = { where, width: page.viewportSize()?.width, wide: [] };
  (soft ? expect.soft : expect)({ where, ...measured }).toEqual(expected);
}
