#!/usr/bin/env node
// Runs the browser suite. A missing /usr/bin/chromium fails the run, unless ORBITDOCK_SKIP_BROWSER=1
// says this machine has no browser on purpose: then the suite is skipped with a clear message.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.resolve(here, "../../..")
const chromium = process.env.ORBITDOCK_CHROMIUM ?? "/usr/bin/chromium"

// On a fresh Debian machine where we are root (CI, a dev container), `npm test` installs Debian's
// chromium itself, so the README's two commands are enough. Never a browser download from elsewhere.
const canInstall = () =>
  chromium === "/usr/bin/chromium" &&
  process.getuid?.() === 0 &&
  spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status === 0
if (!fs.existsSync(chromium) && process.env.ORBITDOCK_SKIP_BROWSER !== "1" && canInstall()) {
  console.log("e2e/web: installing Debian's chromium (apt-get install -y chromium)…")
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env })
  spawnSync("apt-get", ["install", "-y", "-qq", "chromium"], { stdio: "inherit", env })
}

if (!fs.existsSync(chromium)) {
  if (process.env.ORBITDOCK_SKIP_BROWSER === "1") {
    console.log(`e2e/web: SKIPPED: ${chromium} is missing and ORBITDOCK_SKIP_BROWSER=1 (install it with: apt-get install -y chromium)`)
    process.exit(0)
  }
  console.error(`e2e/web: ${chromium} is missing. Install Debian's chromium (apt-get update && apt-get install -y chromium),`)
  console.error("or set ORBITDOCK_SKIP_BROWSER=1 to skip the browser tests on purpose.")
  process.exit(1)
}
for (const built of ["packages/server/dist/bin.js", "packages/web/dist/index.html"]) {
  if (!fs.existsSync(path.join(repo, built))) {
    console.error(`e2e/web: ${built} is missing: run \`npm run build\` in the repository root first.`)
    process.exit(1)
  }
}
const vitest = path.join(here, "..", "node_modules", "vitest", "vitest.mjs")
const result = spawnSync(process.execPath, [vitest, "run", ...process.argv.slice(2)], { cwd: path.join(here, ".."), stdio: "inherit" })
process.exit(result.status ?? 1)
