#!/usr/bin/env -S node --single-threaded-gc
/**
 * The `orbitdock` command as npm links it. Committed (not built) so that the link exists right
 * after `npm install`, before the first build: npm links a bin only if its target exists then.
 * Runs the bundled server (`dist/bundle/bin.js`, what `npm start` runs), else the unbundled build,
 * else says how to build. The shebang passes the server's Node options (src/nodeFlags.ts).
 */
import * as fs from "node:fs"
import { fileURLToPath, pathToFileURL } from "node:url"

const candidates = ["../dist/bundle/bin.js", "../dist/bin.js"].map((p) => fileURLToPath(new URL(p, import.meta.url)))
const built = candidates.find((file) => fs.existsSync(file))
if (built === undefined) {
  const root = fileURLToPath(new URL("../../..", import.meta.url))
  process.stderr.write(`orbitdock: the server is not built yet: run \`npm run build\` in ${root}\n`)
  process.exitCode = 1
} else {
  await import(pathToFileURL(built).href)
}
