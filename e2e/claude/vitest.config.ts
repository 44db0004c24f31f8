import { defineConfig } from "vitest/config"

// The e2e suite of the Claude Code connector: real `claude` binary (npm, pinned), mock Messages API,
// real OrbitDock server process. Not part of the root vitest run (its config only includes
// packages/*/test/**).
export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ["tests/**/*.test.ts"],
    testTimeout: 90_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Each test runs claude processes and an OrbitDock server; the machine has two cores.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } }
  }
})
