import type { PlaywrightTestConfig } from "@playwright/test";

// Browser tests drive Debian's Chromium (`make chromium` installs it); Playwright downloads
// no browser. Each run starts its own `batonflow serve` on a free loopback port
// (tests/e2e/server.ts).
const config: PlaywrightTestConfig = {
  testDir: "../tests/e2e",
  testMatch: /.*\.spec\.ts$/,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "../artifacts/playwright",
  use: {
    browserName: "chromium",
    headless: true,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.BATONFLOW_CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
      ],
    },
    trace: "off",
    screenshot: "only-on-failure",
  },
};

export default config;
