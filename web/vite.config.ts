/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The bundle goes into the Python package, which serves it at `/` (src/batonflow/api/web.py).
const outDir = fileURLToPath(new URL("../src/batonflow/web/static", import.meta.url));

export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 800,
  },
  server: {
    // `npm run dev` against a `batonflow serve` on the default port.
    proxy: { "/api": "http://127.0.0.1:8420", "/health": "http://127.0.0.1:8420" },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
