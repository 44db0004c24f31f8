/**
 * Builds the mission-control page into `dist/` (served by `orbitdock serve` at `/`). No React plugin:
 * esbuild's automatic JSX runtime is all the build needs (no fast refresh, fewer dependencies).
 */
import { defineConfig } from "vite"

export default defineConfig({
  base: "/",
  esbuild: { jsx: "automatic" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
    reportCompressedSize: false
  }
})
