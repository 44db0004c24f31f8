import { defineConfig } from "vitest/config"

// The e2e suite of the Codex connector: real `codex` binary, mock model, real OrbitDock server.
// Not part of the root vitest run (its config only includes packages/*/test/**).
export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two files at a time: each runs codex processes; the machine has two cores.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } }
  }
})
