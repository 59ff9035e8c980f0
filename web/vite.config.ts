/// <reference types="vitest/config" />
import { copyFileSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

// The bundle goes into the Python package, which serves it at `/` (src/batonflow/api/web.py).
const outDir = fileURLToPath(new URL("../src/batonflow/web/static", import.meta.url));

// The API's interactive docs (`/docs`) load Swagger UI from here, never from a CDN.
function swaggerUi(): Plugin {
  const from = fileURLToPath(new URL("node_modules/swagger-ui-dist/", import.meta.url));
  return {
    name: "batonflow-swagger-ui",
    apply: "build",
    closeBundle() {
      mkdirSync(`${outDir}/swagger`, { recursive: true });
      for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
        copyFileSync(`${from}${file}`, `${outDir}/swagger/${file}`);
      }
    },
  };
}

export default defineConfig({
  base: "/",
  plugins: [swaggerUi()],
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
