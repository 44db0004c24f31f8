import { defineConfig } from "vitest/config"

// The browser suite of the web page: real Chromium, real server process, sim sessions.
// Not part of the root vitest run (its config only includes packages/*/test/**).
export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // One file at a time: each runs a browser and a server; the machine has two cores.
    fileParallelism: false
  }
})
