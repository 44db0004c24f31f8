/**
 * Bundles the built server (`dist/bin.js`, its writer worker and that worker's checkpointer thread,
 * compiled by `tsc -b`) into `dist/bundle/` with esbuild: what `npm start` runs. Tests import the
 * modules in `dist/` as they are; the bundle is the same code in three files.
 *
 * Why: Node keeps the source text of every loaded ES module on the heap, and the server loads
 * hundreds (effect, @effect/*). Measured on the bench's 200 × 5,000-event log (Node 20, 2 cores):
 * idle, the main isolate's heap holds ~59 MB unbundled against ~19 MB bundled (RSS ~150–200 MB
 * against ~110–130 MB); with every session read once, RSS ~300 MB against ~210–230 MB.
 *
 * Identifiers are kept (whitespace and syntax are minified only): stack traces and logged errors
 * keep their function names, and mangling them saved no measurable memory. `dist/bundle` sits at
 * the same depth as `dist/http`, so the paths the code resolves from its own location
 * (`../../package.json`, `../../../web/dist`) hold in both; the workers keep their place under
 * `eventlog/` (see `writerWorkerUrl`).
 */
import { build } from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist")

await build({
  entryPoints: [path.join(dist, "bin.js"), path.join(dist, "eventlog/writerWorker.js"), path.join(dist, "eventlog/checkpointWorker.js")],
  outbase: dist,
  outdir: path.join(dist, "bundle"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: "linked",
  // Native addons (and macOS-only optional ones) load from node_modules at run time.
  external: ["better-sqlite3", "fsevents"],
  // CommonJS dependencies inside an ES module bundle still call `require` (node builtins,
  // optional packages in try/catch): give the bundle one.
  banner: { js: "import { createRequire as __orbitdockRequire } from 'node:module'; const require = __orbitdockRequire(import.meta.url);" },
  logLevel: "warning"
})
// Runnable as a command, like `dist/bin.js` once npm links it: its shebang passes the server's Node options.
fs.chmodSync(path.join(dist, "bundle", "bin.js"), 0o755)
