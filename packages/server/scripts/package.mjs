/**
 * `npm run package`: OrbitDock as one file to install, from the build (`npm run build` first).
 *
 * - `release/orbitdock-<version>.tgz`: `npm install -g ./orbitdock-<version>.tgz` installs the
 *   `orbitdock` command with no dependency to fetch (offline): the server bundled into CommonJS
 *   files, the web page, and better-sqlite3's native addon for this platform and Node ABI.
 * - `release/orbitdock-<version>-<platform>-<arch>`: a single executable (Node's single executable
 *   applications: this Node binary with the same files injected as assets). At its first start it
 *   extracts them into a private cache directory, once per build, and runs from there.
 *
 * The tree both are made from mirrors the repository's (`server/dist/app/bin.js`,
 * `server/package.json`, `web/dist`), so the paths the code resolves from its own location hold.
 */
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const server = path.resolve(here, "..")
const root = path.resolve(server, "../..")
const require = createRequire(import.meta.url)
const { version } = JSON.parse(fs.readFileSync(path.join(server, "package.json"), "utf8"))
const release = path.join(root, "release")
const stage = path.join(release, "stage")
const app = path.join(stage, "server", "dist", "app")
const target = `${process.platform}-${process.arch}`
const abi = process.versions.modules

const step = (what) => process.stdout.write(`package: ${what}\n`)

for (const required of [path.join(server, "dist", "bin.js"), path.join(root, "packages", "web", "dist", "index.html")]) {
  if (!fs.existsSync(required)) throw new Error(`${required} is missing: run \`npm run build\` first`)
}
fs.rmSync(stage, { recursive: true, force: true })
fs.mkdirSync(path.join(app, "native"), { recursive: true })

// better-sqlite3 finds its addon through `bindings` (node_modules paths): here it is found next to
// the bundle, or where the single executable extracted it (ORBITDOCK_SQLITE_ADDON).
const addonShim = `
const fs = require("fs")
const path = require("path")
module.exports = function bindings(name) {
  const candidates = [process.env.ORBITDOCK_SQLITE_ADDON, path.join(__dirname, "native", name), path.join(__dirname, "..", "native", name)].filter(Boolean)
  const found = candidates.find((file) => fs.existsSync(file))
  if (found === undefined) throw new Error("OrbitDock's SQLite addon is missing (looked in " + candidates.join(", ") + "): reinstall OrbitDock")
  const addon = { exports: {} }
  try {
    process.dlopen(addon, found)
  } catch (error) {
    throw new Error("cannot load OrbitDock's SQLite addon (built for ${target}, Node ABI ${abi}; this is " + process.platform + "-" + process.arch + ", Node " + process.version + " ABI " + process.versions.modules + "): " + error.message)
  }
  return addon.exports
}
`

step("bundling the server as CommonJS")
await build({
  entryPoints: {
    bin: path.join(server, "dist", "bin.js"),
    "eventlog/writerWorker": path.join(server, "dist", "eventlog", "writerWorker.js"),
    "eventlog/checkpointWorker": path.join(server, "dist", "eventlog", "checkpointWorker.js")
  },
  outdir: app,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  // `import.meta.url` in CommonJS: the file's own URL, so paths resolved from it hold.
  define: { "import.meta.url": "__orbitdockModuleUrl" },
  banner: { js: 'var __orbitdockModuleUrl = require("url").pathToFileURL(__filename).href;' },
  // Optional native speed-ups their packages do without; macOS-only watchers.
  external: ["msgpackr-extract", "bufferutil", "utf-8-validate", "fsevents"],
  plugins: [
    {
      name: "sqlite-addon",
      setup(b) {
        b.onResolve({ filter: /^bindings$/ }, () => ({ path: "bindings", namespace: "orbitdock-addon" }))
        b.onLoad({ filter: /.*/, namespace: "orbitdock-addon" }, () => ({ contents: addonShim, loader: "js", resolveDir: server }))
      }
    }
  ],
  logLevel: "warning"
})
fs.chmodSync(path.join(app, "bin.js"), 0o755)
const addon = path.join(path.dirname(require.resolve("better-sqlite3/package.json")), "build", "Release", "better_sqlite3.node")
fs.copyFileSync(addon, path.join(app, "native", "better_sqlite3.node"))
fs.cpSync(path.join(root, "packages", "web", "dist"), path.join(stage, "web", "dist"), { recursive: true })
// What the code reads its version from (`../../package.json` from the bundle); CommonJS (no "type").
fs.writeFileSync(path.join(stage, "server", "package.json"), `${JSON.stringify({ name: "@orbitdock/server", version, private: true }, null, 2)}\n`)
fs.writeFileSync(
  path.join(stage, "package.json"),
  `${JSON.stringify(
    {
      name: "orbitdock",
      version,
      description: "Mission control for AI coding agents: an event-sourced local server that watches and drives Claude Code and Codex sessions.",
      license: "UNLICENSED",
      bin: { orbitdock: "server/dist/app/bin.js" },
      // The addon inside is built for this platform and Node's ABI: npm refuses other platforms.
      os: [process.platform],
      cpu: [process.arch],
      engines: { node: `>=${process.versions.node.split(".")[0]} <${Number(process.versions.node.split(".")[0]) + 1}` },
      files: ["server", "web"]
    },
    null,
    2
  )}\n`
)

step("packing the tarball")
const packed = execFileSync("npm", ["pack", "--silent", "--pack-destination", release], { cwd: stage, encoding: "utf8" }).trim().split("\n").at(-1)
const tarball = path.join(release, packed)

step("building the single executable")
const files = []
const walk = (dir) => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) walk(full)
    else if (entry.name !== "package.json" || dir !== stage) files.push(path.relative(stage, full))
  }
}
walk(stage)
files.sort()
const digest = crypto.createHash("sha256")
for (const file of files) digest.update(file).update("\0").update(fs.readFileSync(path.join(stage, file)))
const manifest = {
  version,
  build: digest.digest("hex").slice(0, 16),
  entry: "server/dist/app/bin.js",
  addon: "server/dist/app/native/better_sqlite3.node",
  files: files.map((file) => ({ path: file, mode: fs.statSync(path.join(stage, file)).mode & 0o777 }))
}
const seaDir = path.join(release, "sea")
fs.rmSync(seaDir, { recursive: true, force: true })
fs.mkdirSync(seaDir, { recursive: true })
fs.writeFileSync(path.join(seaDir, "manifest.json"), JSON.stringify(manifest))
fs.copyFileSync(path.join(here, "sea-launcher.cjs"), path.join(seaDir, "launcher.cjs"))
const assets = { "manifest.json": path.join(seaDir, "manifest.json") }
for (const file of files) assets[file] = path.join(stage, file)
fs.writeFileSync(
  path.join(seaDir, "sea-config.json"),
  JSON.stringify({ main: path.join(seaDir, "launcher.cjs"), output: path.join(seaDir, "blob"), disableExperimentalSEAWarning: true, useCodeCache: false, assets })
)
execFileSync(process.execPath, ["--experimental-sea-config", path.join(seaDir, "sea-config.json")], { stdio: ["ignore", "ignore", "inherit"] })
const executable = path.join(release, `orbitdock-${version}-${target}`)
fs.rmSync(executable, { force: true })
fs.copyFileSync(process.execPath, executable)
fs.chmodSync(executable, 0o755)
const postject = path.join(path.dirname(require.resolve("postject/package.json")), "dist", "cli.js")
execFileSync(
  process.execPath,
  [postject, executable, "NODE_SEA_BLOB", path.join(seaDir, "blob"), "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2", ...(process.platform === "darwin" ? ["--macho-segment-name", "NODE_SEA"] : [])],
  { stdio: ["ignore", "ignore", "inherit"] }
)
if (process.platform === "darwin") execFileSync("codesign", ["--sign", "-", executable])
fs.rmSync(seaDir, { recursive: true, force: true })

const mib = (file) => `${(fs.statSync(file).size / 1024 / 1024).toFixed(1)} MiB`
step(`wrote ${tarball} (${mib(tarball)})`)
step(`wrote ${executable} (${mib(executable)})`)
